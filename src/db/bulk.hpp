#pragma once
/// Bulk operations: many inserts or updates in one transaction, all or nothing, with a report of
/// every item that failed (which item, which field, why) rather than only the first.

#include <string>
#include <vector>

#include "core/result.hpp"
#include "db/database.hpp"

namespace evald::db {

struct BulkReport {
  std::size_t applied = 0;
};

/// Runs `sql` once per item inside `tx`, each under a savepoint so that one failure does not
/// hide the others. When any item fails, returns an error whose details name each failing item
/// as "items[i]" or "items[i].field"; the caller's transaction then rolls back as a whole.
Result<BulkReport> bulk_execute(Tx& tx, std::string_view sql, const std::vector<Params>& items);

/// bulk_execute in a transaction of its own.
Result<BulkReport> bulk_write(Database& db, std::string_view sql, const std::vector<Params>& items);

}  // namespace evald::db
