// PostgreSQL through libpq: a bounded pool of connections (min kept open, idle ones above the
// minimum closed, a bounded wait for a free one), broken connections detected and replaced, and
// prepared statements per connection.

#include <libpq-fe.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "core/scope_exit.hpp"
#include "db/engines.hpp"
#include "db/sql.hpp"
#include "log/log.hpp"

namespace evald::db {
namespace {

using Clock_ = std::chrono::steady_clock;

// SQLSTATE classes that mean "the server is not there": connection exceptions, shutdown,
// insufficient resources, cannot connect now.
bool unavailable_state(std::string_view state) {
  return state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0 || state.rfind("53", 0) == 0;
}

// Text PostgreSQL cannot take as it is (a NUL, invalid UTF-8) came from the client: 400, not a
// server fault.
ApiError unstorable_text(std::string internal) {
  return ApiError{ErrorCode::kValidationError,
                  "Text must be valid UTF-8 without NUL characters",
                  {},
                  400,
                  std::move(internal)};
}

// libpq reads a text parameter up to its first NUL: the rest would be dropped without a word
// (a login id "admin<NUL>x" would be looked up as "admin"). Refused before it is sent.
std::optional<ApiError> nul_in_params(const Params& params, std::string_view sql) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (const auto* s = std::get_if<std::string>(&params[i]);
        s && s->find('\0') != std::string::npos) {
      return unstorable_text("postgresql: parameter $" + std::to_string(i + 1) +
                             " holds a NUL in: " + std::string(sql.substr(0, 200)));
    }
  }
  return std::nullopt;
}

ApiError map_result_error(PGconn* conn, PGresult* res, std::string_view sql) {
  const char* state_c = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const std::string state = state_c ? state_c : "";
  const char* primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string internal = "postgresql " + state + ": " + (primary ? primary : PQerrorMessage(conn)) +
                         " in: " + std::string(sql.substr(0, 200));
  if (state == "23505") {
    // DETAIL: Key (project_id, registration_number)=(...) already exists.
    std::vector<std::string> fields;
    const char* detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
    std::string d = detail ? detail : "";
    const auto open = d.find("Key (");
    const auto close = d.find(")=", open);
    if (open != std::string::npos && close != std::string::npos) {
      std::string cols = d.substr(open + 5, close - open - 5);
      std::size_t pos = 0;
      while (true) {
        auto comma = cols.find(", ", pos);
        fields.push_back(
            cols.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
        if (comma == std::string::npos) break;
        pos = comma + 2;
      }
    }
    return unique_violation(fields, internal);
  }
  if (state == "23503") return foreign_key_violation(internal);
  // 22021: invalid byte sequence for the encoding; 22P05: untranslatable character.
  if (state == "22021" || state == "22P05") return unstorable_text(internal);
  if (PQstatus(conn) == CONNECTION_BAD || unavailable_state(state) || state == "57014") {
    return database_unavailable(internal);  // 57014: statement timeout
  }
  return database_failure(internal);
}

struct PgConn {
  PGconn* conn = nullptr;
  std::unordered_map<std::string, std::string> prepared;  // sql -> statement name
  Clock_::time_point last_used = Clock_::now();
  bool broken = false;
  std::uint64_t statements_run = 0;
  ~PgConn() {
    if (conn) PQfinish(conn);
  }
};

Value convert(PGresult* res, int row, int col) {
  if (PQgetisnull(res, row, col)) return std::monostate{};
  const char* v = PQgetvalue(res, row, col);
  switch (PQftype(res, col)) {
    case 20:  // int8
    case 21:  // int2
    case 23:  // int4
      return std::int64_t{std::strtoll(v, nullptr, 10)};
    case 700:   // float4
    case 701:   // float8
    case 1700:  // numeric
      // strtod, not stod: a subnormal such as 5e-324 is a value, not an exception.
      return std::strtod(v, nullptr);
    case 16:  // bool
      return std::int64_t{v[0] == 't' ? 1 : 0};
    default:
      return std::string(v, PQgetlength(res, row, col));
  }
}

class PgTx final : public Tx {
 public:
  PgTx(PgConn& c, QueryMonitor& m, std::vector<std::string>* written)
      : c_(c), m_(m), written_(written) {}

  Result<Rows> query(std::string_view sql, const Params& params) override {
    const auto start = Clock_::now();
    ++c_.statements_run;
    auto r = run(sql, params);
    m_.record(sql, Clock_::now() - start, r.ok());
    if (r && written_) {
      if (auto t = written_table(sql)) written_->push_back(*t);
    }
    return r;
  }

  // Pipeline mode: a batch of executions is sent, then its results read, so the rows of a
  // restore cost one round trip per batch. Batches stay small enough that neither side's
  // socket buffer fills while the other waits (libpq's blocking-mode caveat).
  Status exec_many(std::string_view sql, const std::vector<Params>& rows) override {
    if (rows.empty()) return Ok{};
    auto name = prepare(sql);
    if (!name) return std::move(name).error();
    const auto start = Clock_::now();
    Status result = Ok{};
    for (std::size_t begin = 0; begin < rows.size() && result.ok(); begin += kPipelineBatch) {
      const std::size_t end = std::min(rows.size(), begin + kPipelineBatch);
      result = pipeline_batch(*name, sql, rows, begin, end);
    }
    m_.record(sql, Clock_::now() - start, result.ok());
    if (result && written_) {
      if (auto t = written_table(sql)) written_->push_back(*t);
    }
    return result;
  }

  Status script(std::string_view sql) override {
    const auto start = Clock_::now();
    PGresult* res = PQexec(c_.conn, std::string(sql).c_str());
    const bool ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
    m_.record("(script)", Clock_::now() - start, ok);
    if (!ok) {
      auto e = map_result_error(c_.conn, res, sql);
      if (PQstatus(c_.conn) == CONNECTION_BAD) c_.broken = true;
      PQclear(res);
      return e;
    }
    PQclear(res);
    return Ok{};
  }

 private:
  static constexpr std::size_t kPipelineBatch = 256;

  // The statement's prepared name on this connection, preparing it the first time.
  Result<std::string> prepare(std::string_view sql) {
    std::string key(sql);
    auto it = c_.prepared.find(key);
    if (it != c_.prepared.end()) return it->second;
    std::string name = "s" + std::to_string(c_.prepared.size());
    PGresult* prep = PQprepare(c_.conn, name.c_str(), key.c_str(), 0, nullptr);
    if (!prep || PQresultStatus(prep) != PGRES_COMMAND_OK) {
      auto e = map_result_error(c_.conn, prep, sql);
      if (PQstatus(c_.conn) == CONNECTION_BAD) c_.broken = true;
      PQclear(prep);
      return e;
    }
    PQclear(prep);
    c_.prepared.emplace(std::move(key), name);
    return name;
  }

  // Parameters as text; the vectors keep the strings alive while libpq reads them.
  static void to_text(const Params& params, std::vector<std::string>& text,
                      std::vector<const char*>& values) {
    text.assign(params.size(), {});
    values.assign(params.size(), nullptr);
    for (std::size_t i = 0; i < params.size(); ++i) {
      const auto& p = params[i];
      switch (p.index()) {
        case 0:
          continue;
        case 1:
          text[i] = std::to_string(std::get<1>(p));
          break;
        case 2:
          text[i] = fmt::format("{:.17g}", std::get<2>(p));
          break;
        case 3:
          text[i] = std::get<3>(p);
          break;
      }
      values[i] = text[i].c_str();
    }
  }

  Status pipeline_batch(const std::string& name, std::string_view sql,
                        const std::vector<Params>& rows, std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      if (auto bad = nul_in_params(rows[i], sql)) return *bad;
    }
    if (PQenterPipelineMode(c_.conn) != 1) return database_failure("cannot enter pipeline mode");
    std::vector<std::string> text;
    std::vector<const char*> values;
    for (std::size_t i = begin; i < end; ++i) {
      to_text(rows[i], text, values);
      if (PQsendQueryPrepared(c_.conn, name.c_str(), static_cast<int>(values.size()), values.data(),
                              nullptr, nullptr, 0) != 1) {
        c_.broken = true;  // the connection is in an unknown state: never reuse it
        return database_unavailable(std::string("pipeline send failed: ") +
                                    PQerrorMessage(c_.conn));
      }
    }
    if (PQpipelineSync(c_.conn) != 1) {
      c_.broken = true;
      return database_unavailable("pipeline sync failed");
    }
    std::optional<ApiError> first_error;
    // Each query yields its result then a NULL; the sync yields PGRES_PIPELINE_SYNC.
    for (;;) {
      PGresult* res = PQgetResult(c_.conn);
      if (!res) {
        if (PQstatus(c_.conn) == CONNECTION_BAD) {
          c_.broken = true;
          return database_unavailable("connection lost in a pipeline");
        }
        continue;
      }
      const auto status = PQresultStatus(res);
      if (status == PGRES_PIPELINE_SYNC) {
        PQclear(res);
        break;
      }
      if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK &&
          status != PGRES_PIPELINE_ABORTED && !first_error) {
        first_error = map_result_error(c_.conn, res, sql);
      }
      PQclear(res);
    }
    PQexitPipelineMode(c_.conn);
    if (first_error) return *first_error;
    return Ok{};
  }

  Result<Rows> run(std::string_view sql, const Params& params) {
    if (auto bad = nul_in_params(params, sql)) return *bad;
    auto name = prepare(sql);
    if (!name) return std::move(name).error();
    std::vector<std::string> text;
    std::vector<const char*> values;
    to_text(params, text, values);
    PGresult* res = PQexecPrepared(c_.conn, name->c_str(), static_cast<int>(params.size()),
                                   values.data(), nullptr, nullptr, 0);
    const auto status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      auto e = map_result_error(c_.conn, res, sql);
      if (PQstatus(c_.conn) == CONNECTION_BAD) c_.broken = true;
      PQclear(res);
      return e;
    }
    Rows rows;
    const int ncol = PQnfields(res);
    const int nrow = PQntuples(res);
    for (int c = 0; c < ncol; ++c) rows.columns.emplace_back(PQfname(res, c));
    rows.rows.reserve(nrow);
    for (int r = 0; r < nrow; ++r) {
      std::vector<Value> row;
      row.reserve(ncol);
      for (int c = 0; c < ncol; ++c) row.push_back(convert(res, r, c));
      rows.rows.push_back(std::move(row));
    }
    const char* affected = PQcmdTuples(res);
    rows.affected = affected && *affected ? std::stoll(affected) : 0;
    PQclear(res);
    return rows;
  }

  PgConn& c_;
  QueryMonitor& m_;
  std::vector<std::string>* written_;
};

class PostgresDatabase final : public Database {
 public:
  PostgresDatabase(const DatabaseOptions& o, const Clock& clock)
      : Database(o, clock), o_(o), log_(log::get("db")) {
    conninfo_ = o.url;
    const char sep = conninfo_.find('?') == std::string::npos ? '?' : '&';
    conninfo_ += sep;
    conninfo_ += "connect_timeout=" + std::to_string(std::max(1u, o.connect_timeout_ms / 1000)) +
                 "&options=-c%20statement_timeout%3D" + std::to_string(o.statement_timeout_ms) +
                 "&application_name=evald";
    // Open the minimum now; a failure here is reported by readiness, not fatal.
    std::vector<std::unique_ptr<PgConn>> opened;
    for (unsigned i = 0; i < o.min_pool_size; ++i) {
      auto c = connect();
      if (!c) break;
      opened.push_back(std::move(c));
    }
    std::lock_guard lock(mu_);
    open_ = opened.size();
    for (auto& c : opened) idle_.push_back(std::move(c));
  }

  Engine engine() const override { return Engine::kPostgres; }

  PoolStats pool_stats() const override {
    std::lock_guard lock(mu_);
    PoolStats s;
    s.open = open_;
    s.idle = idle_.size();
    s.in_use = open_ - idle_.size();
    s.max = o_.max_pool_size;
    s.waits = waits_;
    s.wait_ms_total = wait_ms_;
    s.timeouts = timeouts_;
    s.failed_connects = failed_connects_;
    s.replaced = replaced_;
    return s;
  }

 protected:
  Status run_write(const TxFn& fn, std::vector<std::string>& written) override {
    return run("BEGIN", fn, &written);
  }
  Status run_read(const TxFn& fn) override {
    return run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", fn, nullptr);
  }

  Result<Rows> run_single(std::string_view sql, const Params& params) override {
    for (unsigned attempt = 0;; ++attempt) {
      auto acquired = acquire();
      if (!acquired) return std::move(acquired).error();
      std::unique_ptr<PgConn> conn = std::move(acquired.value());
      const ScopeExit give_back([&] { release(std::move(conn)); });
      const bool was_idle = conn->statements_run > 0;
      PgTx tx(*conn, *monitor_, nullptr);
      auto r = tx.query(sql, params);
      // A pooled connection that died while idle (PostgreSQL restarted) fails at once: retry a
      // read on a fresh one. A write is not retried: it may have run before the loss.
      if (!r && conn->broken && was_idle && !written_table(sql) && attempt < o_.max_pool_size) {
        continue;
      }
      return r;
    }
  }

 private:
  // Runs fn in a transaction. A connection found dead at BEGIN (PostgreSQL restarted while it
  // sat idle) is replaced and BEGIN retried, since nothing has happened yet.
  Status run(const char* begin, const TxFn& fn, std::vector<std::string>* written) {
    for (unsigned attempt = 0;; ++attempt) {
      auto acquired = acquire();
      if (!acquired) return std::move(acquired).error();
      std::unique_ptr<PgConn> conn = std::move(acquired.value());
      const ScopeExit give_back([&] { release(std::move(conn)); });

      PgTx tx(*conn, *monitor_, written);
      auto st = tx.script(begin);
      if (!st) {
        if (conn->broken && attempt < o_.max_pool_size) continue;
        return st;
      }
      Status result = Ok{};
      try {
        result = fn(tx);
      } catch (...) {
        tx.script("ROLLBACK");
        throw;
      }
      if (!result) {
        if (!conn->broken) tx.script("ROLLBACK");
        if (written) written->clear();
        return result;
      }
      if (auto c = tx.script("COMMIT"); !c) {
        if (written) written->clear();
        return c;
      }
      return Ok{};
    }
  }

  std::unique_ptr<PgConn> connect() {
    auto c = std::make_unique<PgConn>();
    c->conn = PQconnectdb(conninfo_.c_str());
    if (!c->conn || PQstatus(c->conn) != CONNECTION_OK) {
      std::string msg = c->conn ? PQerrorMessage(c->conn) : "out of memory";
      while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
      {
        std::lock_guard lock(mu_);
        ++failed_connects_;
        last_connect_error_ = msg;
      }
      log_->warn("{}", log::Line("postgresql connect failed").kv("error", msg));
      return nullptr;
    }
    // Server notices ("relation already exists, skipping") go to the debug log, not stderr.
    PQsetNoticeProcessor(
        c->conn,
        [](void*, const char* message) {
          log::get("db")->debug("{}", log::Line("postgresql notice").kv("notice", message));
        },
        nullptr);
    return c;
  }

  Result<std::unique_ptr<PgConn>> acquire() {
    std::unique_lock lock(mu_);
    close_idle_locked();
    const auto deadline = Clock_::now() + std::chrono::milliseconds(o_.pool_wait_ms);
    bool waited = false;
    const auto wait_start = Clock_::now();
    while (idle_.empty() && open_ >= o_.max_pool_size) {
      waited = true;
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
          open_ >= o_.max_pool_size) {
        ++timeouts_;
        ++waits_;
        return database_unavailable("connection pool exhausted after " +
                                    std::to_string(o_.pool_wait_ms) + " ms");
      }
    }
    if (waited) {
      ++waits_;
      wait_ms_ += std::chrono::duration<double, std::milli>(Clock_::now() - wait_start).count();
    }
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
    ++open_;
    lock.unlock();
    auto c = connect();
    if (!c) {
      std::lock_guard relock(mu_);
      --open_;
      cv_.notify_one();
      return database_unavailable("cannot connect to PostgreSQL: " + last_connect_error_);
    }
    return c;
  }

  void release(std::unique_ptr<PgConn> c) {
    if (!c) return;
    std::lock_guard lock(mu_);
    if (c->broken || PQstatus(c->conn) != CONNECTION_OK ||
        PQtransactionStatus(c->conn) != PQTRANS_IDLE) {
      --open_;
      ++replaced_;
      c.reset();
    } else {
      c->last_used = Clock_::now();
      idle_.push_back(std::move(c));
    }
    cv_.notify_one();
  }

  // Idle connections above the minimum, unused for max_idle_time, are closed.
  void close_idle_locked() {
    const auto limit = Clock_::now() - std::chrono::milliseconds(o_.max_idle_time_ms);
    while (open_ > o_.min_pool_size && !idle_.empty() && idle_.front()->last_used < limit) {
      idle_.pop_front();
      --open_;
    }
  }

  DatabaseOptions o_;
  std::shared_ptr<spdlog::logger> log_;
  std::string conninfo_;
  std::string last_connect_error_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<PgConn>> idle_;  // front = least recently used
  std::size_t open_ = 0;
  std::uint64_t waits_ = 0, timeouts_ = 0, failed_connects_ = 0, replaced_ = 0;
  double wait_ms_ = 0;
};

}  // namespace

std::unique_ptr<Database> open_postgres(const DatabaseOptions& options, const Clock& clock) {
  return std::make_unique<PostgresDatabase>(options, clock);
}

std::unique_ptr<Database> open_database(const DatabaseOptions& options, const Clock& clock) {
  if (options.url.rfind("sqlite://", 0) == 0) return open_sqlite(options, clock);
  if (options.url.rfind("postgresql://", 0) == 0 || options.url.rfind("postgres://", 0) == 0) {
    return open_postgres(options, clock);
  }
  throw std::runtime_error("DATABASE_URL must start with sqlite:// or postgresql://");
}

}  // namespace evald::db
