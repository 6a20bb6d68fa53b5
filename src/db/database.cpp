#include "db/database.hpp"

#include <stdexcept>

#include "db/sql.hpp"

namespace evald::db {

std::string_view to_string(Engine e) { return e == Engine::kSqlite ? "sqlite" : "postgresql"; }

std::size_t Rows::column(std::string_view name) const {
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == name) return i;
  }
  throw std::out_of_range("no column " + std::string(name));
}

std::string Rows::text(std::size_t row, std::string_view col) const {
  const auto& v = rows.at(row).at(column(col));
  switch (v.index()) {
    case 0:
      return {};
    case 1:
      return std::to_string(std::get<1>(v));
    case 2:
      return std::to_string(std::get<2>(v));
    default:
      return std::get<3>(v);
  }
}

std::int64_t Rows::integer(std::size_t row, std::string_view col) const {
  const auto& v = rows.at(row).at(column(col));
  switch (v.index()) {
    case 1:
      return std::get<1>(v);
    case 2:
      return static_cast<std::int64_t>(std::get<2>(v));
    case 3:
      return std::stoll(std::get<3>(v));
    default:
      return 0;
  }
}

double Rows::real(std::size_t row, std::string_view col) const {
  const auto& v = rows.at(row).at(column(col));
  switch (v.index()) {
    case 1:
      return static_cast<double>(std::get<1>(v));
    case 2:
      return std::get<2>(v);
    case 3:
      return std::stod(std::get<3>(v));
    default:
      return 0;
  }
}

bool Rows::null_at(std::size_t row, std::string_view col) const {
  return is_null(rows.at(row).at(column(col)));
}

Result<std::int64_t> Tx::exec(std::string_view sql, const Params& params) {
  auto r = query(sql, params);
  if (!r) return std::move(r).error();
  return r->affected;
}

Status Tx::exec_many(std::string_view sql, const std::vector<Params>& rows) {
  for (const auto& row : rows) {
    if (auto r = exec(sql, row); !r) return std::move(r).error();
  }
  return Ok{};
}

Database::Database(const DatabaseOptions& options, const Clock& clock)
    : monitor_(
          std::make_unique<QueryMonitor>(clock, std::chrono::milliseconds(options.slow_query_ms))),
      cache_(std::make_unique<QueryCache>(clock,
                                          std::chrono::seconds(options.query_cache_ttl_seconds),
                                          options.query_cache_max_entries)) {}

Status Database::ping() {
  auto r = query("SELECT 1");
  if (!r) return std::move(r).error();
  return Ok{};
}

Status Database::write(const TxFn& fn) {
  std::vector<std::string> written;
  auto st = run_write(fn, written);
  if (st) cache_->invalidate(written);
  return st;
}

Status Database::read(const TxFn& fn) { return run_read(fn); }

Result<Rows> Database::query(std::string_view sql, const Params& params) {
  return run_single(sql, params);
}

Result<Rows> Database::cached_query(std::string_view sql, const Params& params,
                                    const std::vector<std::string>& tables) {
  if (!cache_->enabled()) return query(sql, params);
  const std::string key = cache_key(sql, params);
  if (auto hit = cache_->get(key, tables)) return std::move(*hit);
  const auto seen = cache_->generations(tables);
  auto rows = query(sql, params);
  if (rows) cache_->put(key, *rows, tables, seen);
  return rows;
}

std::optional<Rows> Database::peek_cached(std::string_view sql, const Params& params,
                                          const std::vector<std::string>& tables) {
  if (!cache_->enabled()) return std::nullopt;
  return cache_->get(cache_key(sql, params), tables);
}

Result<std::vector<std::string>> Database::table_names() {
  const char* sql =
      engine() == Engine::kSqlite
          ? "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
          : "SELECT table_name::text AS name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1";
  auto rows = query(sql);
  if (!rows) return std::move(rows).error();
  std::vector<std::string> names;
  for (std::size_t i = 0; i < rows->size(); ++i) names.push_back(rows->text(i, "name"));
  return names;
}

}  // namespace evald::db
