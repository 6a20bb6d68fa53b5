#pragma once
/// Numbered schema migrations, identical in meaning on SQLite and PostgreSQL, each applied in
/// its own transaction and recorded in schema_migrations.

#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "db/database.hpp"

namespace evald::db {

struct Migration {
  int version;
  std::string name;
  std::string sql;  ///< portable SQL, several statements
};

const std::vector<Migration>& migrations();
int latest_schema_version();

/// Every table of the schema, parents before children: the order of backup and restore.
/// A test checks it against the database catalogue, so no table is ever left out.
const std::vector<std::string>& tables_in_dependency_order();

/// 0 when the database has no schema yet.
Result<int> current_schema_version(Database& db);

struct MigrateReport {
  int from = 0;
  int to = 0;
  std::vector<int> applied;
};

/// Applies what is missing, up to `target` (default: the latest). Safe to run twice and from
/// two processes at once. Refuses a database newer than this binary.
Result<MigrateReport> migrate(Database& db, std::optional<int> target = std::nullopt);

}  // namespace evald::db
