#include "db/bulk.hpp"

namespace evald::db {

Result<BulkReport> bulk_execute(Tx& tx, std::string_view sql, const std::vector<Params>& items) {
  BulkReport report;
  std::vector<FieldError> failures;
  ErrorCode worst = ErrorCode::kConflict;
  unsigned worst_status = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (auto s = tx.script("SAVEPOINT bulk_item"); !s) return s.error();
    auto r = tx.exec(sql, items[i]);
    if (r) {
      if (auto s = tx.script("RELEASE SAVEPOINT bulk_item"); !s) return s.error();
      ++report.applied;
      continue;
    }
    const ApiError& e = r.error();
    // An unavailable database is not an item's fault: stop at once.
    if (e.code == ErrorCode::kDatabaseError && e.status() == 503) return e;
    if (e.code != ErrorCode::kConflict) worst = e.code, worst_status = e.status_override;
    if (auto s = tx.script("ROLLBACK TO SAVEPOINT bulk_item"); !s) return s.error();
    if (auto s = tx.script("RELEASE SAVEPOINT bulk_item"); !s) return s.error();
    const std::string item = "items[" + std::to_string(i) + "]";
    if (e.details.empty()) {
      failures.push_back(FieldError{item, e.message, "bulk.item_failed", std::nullopt});
    }
    for (const auto& d : e.details) {
      failures.push_back(FieldError{item + "." + d.field, d.message, d.code, std::nullopt});
    }
  }
  if (!failures.empty()) {
    ApiError e{worst,
               std::to_string(failures.size()) + " of " + std::to_string(items.size()) +
                   " items failed; nothing was written",
               std::move(failures),
               worst_status,
               {}};
    return e;
  }
  return report;
}

Result<BulkReport> bulk_write(Database& db, std::string_view sql,
                              const std::vector<Params>& items) {
  std::optional<BulkReport> report;
  auto st = db.write([&](Tx& tx) -> Status {
    auto r = bulk_execute(tx, sql, items);
    if (!r) return std::move(r).error();
    report = *r;
    return Ok{};
  });
  if (!st) return st.error();
  return *report;
}

}  // namespace evald::db
