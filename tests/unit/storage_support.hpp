#pragma once
// Shared helpers of the storage tests: an engine-parameterised fixture (SQLite on a temporary
// file; PostgreSQL from EVALD_TEST_PG_URL with the public schema reset per test), printers for
// values and errors, and the scripts that stop and restart the throw-away PostgreSQL cluster.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "db/database.hpp"

namespace evald::db::storage_test {

inline std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

inline std::string pg_url() { return env_or_empty("EVALD_TEST_PG_URL"); }
inline std::string pg_dir() { return env_or_empty("EVALD_TEST_PG_DIR"); }
inline bool pg_required() { return env_or_empty("EVALD_REQUIRE_PG") == "1"; }

/// The repository root, from this header's own path (CMake compiles with absolute paths).
inline std::filesystem::path repo_root() {
  if (auto r = env_or_empty("EVALD_REPO"); !r.empty()) return r;
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
}

/// Runs `scripts/test-postgres.sh CMD $EVALD_TEST_PG_DIR`; the shell's exit status.
inline int pg_control(const std::string& cmd) {
  const std::string line = "'" + (repo_root() / "scripts" / "test-postgres.sh").string() + "' " +
                           cmd + " '" + pg_dir() + "'";
  return std::system(line.c_str());
}

inline std::string unique_name(const std::string& prefix) {
  unsigned char b[8];
  secure_random(b, sizeof b);
  return prefix + to_hex(b, sizeof b);
}

inline std::string temp_sqlite_path() {
  return (std::filesystem::temp_directory_path() / (unique_name("evald-storage-") + ".db"))
      .string();
}

inline void remove_sqlite_files(const std::string& path) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::filesystem::remove(path + suffix, ec);
  }
}

inline std::string describe(const ApiError& e) {
  std::ostringstream s;
  s << "ApiError{code=" << static_cast<int>(e.code) << " status=" << e.status() << " message='"
    << e.message << "' internal='" << e.internal_detail << "' details=[";
  for (const auto& d : e.details) s << d.field << ":" << d.message << ";";
  s << "]}";
  return s.str();
}

template <class T>
std::string describe(const Result<T>& r) {
  return r ? std::string("ok") : describe(r.error());
}

inline std::string show(const Value& v) {
  switch (v.index()) {
    case 0:
      return "NULL";
    case 1:
      return "int:" + std::to_string(std::get<1>(v));
    case 2: {
      std::ostringstream s;
      s.precision(17);
      s << "double:" << std::get<2>(v);
      return s.str();
    }
    default:
      return "text:'" + std::get<3>(v) + "'";
  }
}

inline std::string show(const std::vector<Value>& row) {
  std::string out = "(";
  for (std::size_t i = 0; i < row.size(); ++i) out += (i ? ", " : "") + show(row[i]);
  return out + ")";
}

/// Resets PostgreSQL's public schema through the storage layer itself.
inline ::testing::AssertionResult reset_pg_schema(const std::string& url) {
  RealClock clock;
  DatabaseOptions o;
  o.url = url;
  o.min_pool_size = 1;
  o.max_pool_size = 2;
  o.pool_wait_ms = 2000;
  auto db = open_database(o, clock);
  auto st = db->write(
      [](Tx& tx) { return tx.script("DROP SCHEMA public CASCADE; CREATE SCHEMA public"); });
  if (!st) return ::testing::AssertionFailure() << "schema reset failed: " << describe(st);
  return ::testing::AssertionSuccess();
}

/// Engine-parameterised fixture: url() names a fresh, empty database of the engine under test.
class EngineTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    if (GetParam() == Engine::kPostgres) {
      if (pg_url().empty()) {
        if (pg_required()) {
          FAIL() << "EVALD_REQUIRE_PG=1 but EVALD_TEST_PG_URL is not set";
        }
        GTEST_SKIP() << "EVALD_TEST_PG_URL is not set (run under scripts/with-postgres.sh)";
      }
      url_ = pg_url();
      ASSERT_TRUE(reset_pg_schema(url_));
    } else {
      sqlite_path_ = temp_sqlite_path();
      url_ = "sqlite://" + sqlite_path_;
    }
  }

  void TearDown() override {
    if (!sqlite_path_.empty()) remove_sqlite_files(sqlite_path_);
  }

  Engine engine() const { return GetParam(); }
  const std::string& url() const { return url_; }

  /// Small, test-sized options for this engine's database.
  DatabaseOptions options() const {
    DatabaseOptions o;
    o.url = url_;
    o.min_pool_size = 1;
    o.max_pool_size = 8;
    o.pool_wait_ms = 5000;
    o.connect_timeout_ms = 3000;
    o.readers = 4;
    return o;
  }

  std::unique_ptr<Database> open(const DatabaseOptions& o) { return open_database(o, clock_); }
  std::unique_ptr<Database> open(const DatabaseOptions& o, const Clock& clock) {
    return open_database(o, clock);
  }
  std::unique_ptr<Database> open() { return open(options()); }

  RealClock clock_;
  std::string url_;
  std::string sqlite_path_;
};

struct EngineName {
  std::string operator()(const ::testing::TestParamInfo<Engine>& info) const {
    return info.param == Engine::kSqlite ? "sqlite" : "postgresql";
  }
};

}  // namespace evald::db::storage_test
