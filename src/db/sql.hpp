#pragma once
/// Engine-independent helpers: placeholder translation, the table a statement writes, cache
/// keys, and the mapping of database failures to API errors.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "db/database.hpp"

namespace evald::db {

/// `$1` -> `?1` outside quoted text (SQLite numbers its parameters that way).
std::string to_sqlite_placeholders(std::string_view sql);

/// The table an INSERT, UPDATE, DELETE or DDL statement changes, lower case; nullopt for reads.
std::optional<std::string> written_table(std::string_view sql);

/// Statement text and bound values, unambiguously joined.
std::string cache_key(std::string_view sql, const Params& params);

/// A unique violation: 409 CONFLICT naming the field(s), never the value.
ApiError unique_violation(const std::vector<std::string>& fields, std::string internal);
/// A foreign-key violation: 409 CONFLICT.
ApiError foreign_key_violation(std::string internal);
/// The database cannot be reached, is full or busy past its timeout: 503 DATABASE_ERROR.
ApiError database_unavailable(std::string internal);
/// Anything else: 500 DATABASE_ERROR.
ApiError database_failure(std::string internal);

}  // namespace evald::db
