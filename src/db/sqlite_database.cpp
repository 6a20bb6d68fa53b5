// SQLite: one writer connection (writes queue on a mutex, so concurrent writers never see
// "database is locked"), a pool of reader connections on WAL snapshots, prepared statements
// cached per connection.

#include <sqlite3.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "core/scope_exit.hpp"
#include "db/database.hpp"
#include "db/engines.hpp"
#include "db/sql.hpp"

namespace evald::db {
namespace {

ApiError map_error(sqlite3* db, int rc, std::string_view sql) {
  const int ext = sqlite3_extended_errcode(db);
  std::string msg = sqlite3_errmsg(db);
  std::string internal = "sqlite: " + msg + " in: " + std::string(sql.substr(0, 200));
  switch (ext) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY: {
      // "UNIQUE constraint failed: users.email, users.x" -> ["email", "x"]
      std::vector<std::string> fields;
      const auto colon = msg.find(": ");
      if (colon != std::string::npos) {
        std::string rest = msg.substr(colon + 2);
        std::size_t pos = 0;
        while (pos <= rest.size()) {
          auto comma = rest.find(", ", pos);
          std::string item =
              rest.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
          auto dot = item.find('.');
          fields.push_back(dot == std::string::npos ? item : item.substr(dot + 1));
          if (comma == std::string::npos) break;
          pos = comma + 2;
        }
      }
      return unique_violation(fields, internal);
    }
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return foreign_key_violation(internal);
    default:
      break;
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_NOMEM:
      return database_unavailable(internal);
    default:
      return database_failure(internal);
  }
}

class Connection {
 public:
  Connection(const std::string& path, bool writer, unsigned busy_timeout_ms) {
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close_v2(db_);
      throw std::runtime_error("cannot open SQLite database '" + path + "': " + msg);
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, static_cast<int>(busy_timeout_ms));
    if (writer) must("PRAGMA journal_mode=WAL");
    // Readers serve read() and query(): a write through them would bypass the writer's lock
    // and the cache invalidation, so SQLite itself refuses it.
    if (!writer) must("PRAGMA query_only=ON");
    must("PRAGMA foreign_keys=ON");
    must("PRAGMA synchronous=NORMAL");
  }
  ~Connection() {
    for (auto& [k, s] : stmts_) sqlite3_finalize(s);
    sqlite3_close_v2(db_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* handle() { return db_; }

  void must(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown";
      sqlite3_free(err);
      throw std::runtime_error(std::string("SQLite: ") + sql + ": " + msg);
    }
  }

  Status simple(const char* sql) {
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return map_error(db_, rc, sql);
    return Ok{};
  }

  Result<Rows> run(std::string_view sql, const Params& params) {
    sqlite3_stmt* stmt = nullptr;
    std::string key(sql);
    auto it = stmts_.find(key);
    if (it != stmts_.end()) {
      stmt = it->second;
    } else {
      const std::string translated = to_sqlite_placeholders(sql);
      const int rc =
          sqlite3_prepare_v3(db_, translated.c_str(), static_cast<int>(translated.size()),
                             SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) return map_error(db_, rc, sql);
      stmts_.emplace(std::move(key), stmt);
    }
    const ScopeExit reset([stmt] {
      sqlite3_reset(stmt);
      sqlite3_clear_bindings(stmt);
    });

    if (static_cast<std::size_t>(sqlite3_bind_parameter_count(stmt)) != params.size()) {
      return database_failure("parameter count mismatch in: " + std::string(sql));
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      const int idx = static_cast<int>(i + 1);
      const auto& p = params[i];
      int rc = SQLITE_OK;
      switch (p.index()) {
        case 0:
          rc = sqlite3_bind_null(stmt, idx);
          break;
        case 1:
          rc = sqlite3_bind_int64(stmt, idx, std::get<1>(p));
          break;
        case 2:
          rc = sqlite3_bind_double(stmt, idx, std::get<2>(p));
          break;
        case 3: {
          const auto& s = std::get<3>(p);
          rc = sqlite3_bind_text64(stmt, idx, s.data(), s.size(), SQLITE_STATIC, SQLITE_UTF8);
          break;
        }
      }
      if (rc != SQLITE_OK) return map_error(db_, rc, sql);
    }

    Rows rows;
    const int ncol = sqlite3_column_count(stmt);
    rows.columns.reserve(ncol);
    for (int c = 0; c < ncol; ++c) rows.columns.emplace_back(sqlite3_column_name(stmt, c));
    for (;;) {
      const int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return map_error(db_, rc, sql);
      std::vector<Value> row;
      row.reserve(ncol);
      for (int c = 0; c < ncol; ++c) {
        switch (sqlite3_column_type(stmt, c)) {
          case SQLITE_NULL:
            row.emplace_back(std::monostate{});
            break;
          case SQLITE_INTEGER:
            row.emplace_back(std::int64_t{sqlite3_column_int64(stmt, c)});
            break;
          case SQLITE_FLOAT:
            row.emplace_back(sqlite3_column_double(stmt, c));
            break;
          default: {
            const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
            row.emplace_back(std::string(text ? text : "", sqlite3_column_bytes(stmt, c)));
          }
        }
      }
      rows.rows.push_back(std::move(row));
    }
    rows.affected = sqlite3_stmt_readonly(stmt) ? 0 : sqlite3_changes64(db_);
    return rows;
  }

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> stmts_;
};

class SqliteTx final : public Tx {
 public:
  SqliteTx(Connection& c, QueryMonitor& m, std::vector<std::string>* written)
      : c_(c), m_(m), written_(written) {}

  Result<Rows> query(std::string_view sql, const Params& params) override {
    const auto start = std::chrono::steady_clock::now();
    auto r = c_.run(sql, params);
    m_.record(sql, std::chrono::steady_clock::now() - start, r.ok());
    if (r && written_) {
      if (auto t = written_table(sql)) written_->push_back(*t);
    }
    return r;
  }

  Status script(std::string_view sql) override {
    const auto start = std::chrono::steady_clock::now();
    const std::string text(sql);
    char* err = nullptr;
    const int rc = sqlite3_exec(c_.handle(), text.c_str(), nullptr, nullptr, &err);
    sqlite3_free(err);
    m_.record("(script)", std::chrono::steady_clock::now() - start, rc == SQLITE_OK);
    if (rc != SQLITE_OK) return map_error(c_.handle(), rc, sql);
    return Ok{};
  }

 private:
  Connection& c_;
  QueryMonitor& m_;
  std::vector<std::string>* written_;
};

std::string path_from_url(const std::string& url) {
  const std::string prefix = "sqlite://";
  if (url.rfind(prefix, 0) != 0) throw std::runtime_error("not a sqlite:// URL");
  return url.substr(prefix.size());  // sqlite://data/x.db -> data/x.db; sqlite:///abs -> /abs
}

class SqliteDatabase final : public Database {
 public:
  SqliteDatabase(const DatabaseOptions& o, const Clock& clock)
      : Database(o, clock), path_(path_from_url(o.url)), busy_(o.busy_timeout_ms) {
    const auto parent = std::filesystem::path(path_).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    writer_ = std::make_unique<Connection>(path_, true, busy_);
    readers_max_ = std::max(1u, o.readers);
  }

  Engine engine() const override { return Engine::kSqlite; }

  PoolStats pool_stats() const override {
    std::lock_guard lock(mu_);
    PoolStats s;
    s.open = readers_open_ + 1;
    s.idle = idle_.size();
    s.in_use = s.open - s.idle - 1 + (writer_busy_ ? 1 : 0);
    s.max = readers_max_ + 1;
    s.waits = waits_;
    s.wait_ms_total = wait_ms_;
    return s;
  }

 protected:
  Status run_write(const TxFn& fn, std::vector<std::string>& written) override {
    std::unique_lock wlock(writer_mu_);
    {
      std::lock_guard lock(mu_);
      writer_busy_ = true;
    }
    const ScopeExit idle([this] {
      std::lock_guard lock(mu_);
      writer_busy_ = false;
    });
    if (auto st = writer_->simple("BEGIN IMMEDIATE"); !st) return st;
    SqliteTx tx(*writer_, *monitor_, &written);
    Status result = Ok{};
    try {
      result = fn(tx);
    } catch (...) {
      writer_->simple("ROLLBACK");
      throw;
    }
    if (!result) {
      writer_->simple("ROLLBACK");
      written.clear();
      return result;
    }
    if (auto st = writer_->simple("COMMIT"); !st) {
      writer_->simple("ROLLBACK");
      written.clear();
      return st;
    }
    return Ok{};
  }

  Result<Rows> run_single(std::string_view sql, const Params& params) override {
    auto conn = acquire();
    const ScopeExit give_back([&] { release(std::move(conn)); });
    SqliteTx tx(*conn, *monitor_, nullptr);
    return tx.query(sql, params);
  }

  Status run_read(const TxFn& fn) override {
    auto conn = acquire();
    const ScopeExit give_back([&] { release(std::move(conn)); });
    if (auto st = conn->simple("BEGIN"); !st) return st;
    SqliteTx tx(*conn, *monitor_, nullptr);
    Status result = Ok{};
    try {
      result = fn(tx);
    } catch (...) {
      conn->simple("ROLLBACK");
      throw;
    }
    conn->simple(result ? "COMMIT" : "ROLLBACK");
    return result;
  }

 private:
  std::unique_ptr<Connection> acquire() {
    std::unique_lock lock(mu_);
    if (idle_.empty() && readers_open_ >= readers_max_) {
      ++waits_;
      const auto start = std::chrono::steady_clock::now();
      cv_.wait(lock, [&] { return !idle_.empty(); });
      wait_ms_ +=
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
    }
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
    ++readers_open_;
    lock.unlock();
    try {
      return std::make_unique<Connection>(path_, false, busy_);
    } catch (...) {
      std::lock_guard relock(mu_);
      --readers_open_;
      throw;
    }
  }

  void release(std::unique_ptr<Connection> c) {
    {
      std::lock_guard lock(mu_);
      idle_.push_back(std::move(c));
    }
    cv_.notify_one();
  }

  std::string path_;
  unsigned busy_;
  std::mutex writer_mu_;
  std::unique_ptr<Connection> writer_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  unsigned readers_open_ = 0;
  unsigned readers_max_ = 4;
  bool writer_busy_ = false;
  std::uint64_t waits_ = 0;
  double wait_ms_ = 0;
};

}  // namespace

std::unique_ptr<Database> open_sqlite(const DatabaseOptions& options, const Clock& clock) {
  return std::make_unique<SqliteDatabase>(options, clock);
}

}  // namespace evald::db
