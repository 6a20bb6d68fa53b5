#pragma once
/// The storage interface: SQLite (embedded default) and PostgreSQL behind one face.
///
/// SQL is written once, with $1..$N placeholders and portable types (TEXT, BIGINT, DOUBLE
/// PRECISION); values are always bound, never spliced. Calls block: run them on the worker pool
/// (db/async.hpp), never on an I/O thread. One request, one transaction: write() commits only
/// when its function returns ok and rolls back otherwise.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/cache.hpp"
#include "db/monitor.hpp"

namespace evald::db {

/// NULL, a 64-bit integer, a double or text.
using Value = std::variant<std::monostate, std::int64_t, double, std::string>;
using Params = std::vector<Value>;

inline Value null() { return std::monostate{}; }
inline bool is_null(const Value& v) { return std::holds_alternative<std::monostate>(v); }

struct Rows {
  std::vector<std::string> columns;
  std::vector<std::vector<Value>> rows;
  std::int64_t affected = 0;

  std::size_t size() const { return rows.size(); }
  bool empty() const { return rows.empty(); }
  /// Index of a column by name; throws std::out_of_range when absent (a programming error).
  std::size_t column(std::string_view name) const;
  std::string text(std::size_t row, std::string_view col) const;
  std::int64_t integer(std::size_t row, std::string_view col) const;
  double real(std::size_t row, std::string_view col) const;
  bool null_at(std::size_t row, std::string_view col) const;
};

enum class Engine { kSqlite, kPostgres };
std::string_view to_string(Engine e);

/// One connection inside a transaction.
class Tx {
 public:
  virtual ~Tx() = default;
  virtual Result<Rows> query(std::string_view sql, const Params& params = {}) = 0;
  /// A script of several statements without parameters (migrations).
  virtual Status script(std::string_view sql) = 0;
  /// Rows affected.
  Result<std::int64_t> exec(std::string_view sql, const Params& params = {});
  /// One statement for many parameter sets, all or nothing (the caller's transaction rolls back
  /// on an error). PostgreSQL pipelines them: one round trip per batch instead of per row.
  virtual Status exec_many(std::string_view sql, const std::vector<Params>& rows);
};

using TxFn = std::function<Status(Tx&)>;

struct PoolStats {
  std::size_t open = 0;
  std::size_t in_use = 0;
  std::size_t idle = 0;
  std::size_t max = 0;
  std::uint64_t waits = 0;  ///< acquisitions that had to wait
  double wait_ms_total = 0;
  std::uint64_t timeouts = 0;  ///< waits that gave up (503)
  std::uint64_t failed_connects = 0;
  std::uint64_t replaced = 0;  ///< broken connections discarded
};

struct DatabaseOptions {
  std::string url;
  unsigned max_pool_size = 50;
  unsigned min_pool_size = 5;
  unsigned max_idle_time_ms = 300'000;
  unsigned pool_wait_ms = 5'000;
  unsigned connect_timeout_ms = 10'000;
  unsigned statement_timeout_ms = 30'000;
  unsigned busy_timeout_ms = 5'000;
  unsigned slow_query_ms = 200;
  unsigned query_cache_ttl_seconds = 300;
  std::size_t query_cache_max_entries = 10'000;
  unsigned readers = 4;  ///< SQLite reader connections
};

class Database {
 public:
  virtual ~Database() = default;
  virtual Engine engine() const = 0;

  /// Runs `fn` in one read-write transaction; commits when it returns ok.
  Status write(const TxFn& fn);
  /// Runs `fn` on one consistent read-only snapshot.
  Status read(const TxFn& fn);
  /// One read statement outside any larger unit of work.
  Result<Rows> query(std::string_view sql, const Params& params = {});
  /// A read statement answered from the query cache when fresh. `tables` are those it reads:
  /// a committed write to any of them through this instance invalidates the entry at once.
  Result<Rows> cached_query(std::string_view sql, const Params& params,
                            const std::vector<std::string>& tables);

  /// The cached answer only, without touching the database: safe on an I/O thread.
  std::optional<Rows> peek_cached(std::string_view sql, const Params& params,
                                  const std::vector<std::string>& tables);

  /// A cheap round trip, for readiness.
  Status ping();
  virtual PoolStats pool_stats() const = 0;
  /// Every table of the schema, as the engine's catalogue lists them.
  Result<std::vector<std::string>> table_names();

  QueryMonitor& monitor() { return *monitor_; }
  QueryCache& cache() { return *cache_; }

 protected:
  Database(const DatabaseOptions& options, const Clock& clock);
  /// Engine part: run fn in a transaction; report the tables written on success.
  virtual Status run_write(const TxFn& fn, std::vector<std::string>& written) = 0;
  virtual Status run_read(const TxFn& fn) = 0;
  /// One statement on its own (autocommit): a single statement needs no BEGIN and COMMIT.
  virtual Result<Rows> run_single(std::string_view sql, const Params& params) = 0;

  std::unique_ptr<QueryMonitor> monitor_;
  std::unique_ptr<QueryCache> cache_;
};

/// Opens the database named by options.url (sqlite://PATH or postgresql://...).
/// Throws std::runtime_error with a clear message when it cannot.
std::unique_ptr<Database> open_database(const DatabaseOptions& options, const Clock& clock);

}  // namespace evald::db
