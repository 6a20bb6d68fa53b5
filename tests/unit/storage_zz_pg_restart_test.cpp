// PostgreSQL goes away and comes back: the same Database object answers again, without being
// reopened. Its own suite, registered last (a parameterised suite in the file that sorts last,
// so it runs after every other storage test), and it always restarts the server, so that no
// other test runs against a stopped cluster.

#include <chrono>
#include <thread>

#include "storage_support.hpp"

namespace evald::db::storage_test {
namespace {

using namespace std::chrono_literals;

class StoragePgRestart : public ::testing::TestWithParam<Engine> {};

TEST_P(StoragePgRestart, TheSameDatabaseAnswersAgainAfterARestart) {
  if (pg_url().empty()) {
    if (pg_required()) FAIL() << "EVALD_REQUIRE_PG=1 but EVALD_TEST_PG_URL is not set";
    GTEST_SKIP() << "EVALD_TEST_PG_URL is not set (run under scripts/with-postgres.sh)";
  }
  ASSERT_FALSE(pg_dir().empty()) << "EVALD_TEST_PG_DIR is not set";
  ASSERT_TRUE(reset_pg_schema(pg_url()));

  RealClock clock;
  DatabaseOptions o;
  o.url = pg_url();
  o.min_pool_size = 2;
  o.max_pool_size = 4;
  o.pool_wait_ms = 1000;
  o.connect_timeout_ms = 2000;
  auto db = open_database(o, clock);
  ASSERT_TRUE(db->write([](Tx& tx) -> Status {
    if (auto s = tx.script("CREATE TABLE survives (id BIGINT PRIMARY KEY, v TEXT)"); !s) return s;
    auto r = tx.exec("INSERT INTO survives (id, v) VALUES (1, '재시작 전')");
    if (!r) return std::move(r).error();
    return Ok{};
  }));
  auto before = db->query("SELECT v FROM survives WHERE id = $1", {std::int64_t{1}});
  ASSERT_TRUE(before) << describe(before);
  EXPECT_EQ(before->text(0, "v"), "재시작 전");
  EXPECT_EQ(db->pool_stats().open, 2u);

  struct Restarter {  // the cluster is running again when this test ends, however it ends
    bool stopped = false;
    ~Restarter() {
      if (stopped) pg_control("restart");
    }
  } restarter;
  ASSERT_EQ(pg_control("stop"), 0) << "scripts/test-postgres.sh stop failed";
  restarter.stopped = true;

  const auto t0 = std::chrono::steady_clock::now();
  auto down = db->query("SELECT v FROM survives WHERE id = $1", {std::int64_t{1}});
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(down) << "a query succeeded with the server stopped";
  EXPECT_EQ(down.error().code, ErrorCode::kDatabaseError) << describe(down);
  EXPECT_EQ(down.error().status(), 503u) << describe(down);
  EXPECT_LT(took, 5s) << "a stopped server must be reported promptly";
  auto ping_down = db->ping();
  ASSERT_FALSE(ping_down);
  EXPECT_EQ(ping_down.error().status(), 503u) << describe(ping_down);
  auto write_down = db->write([](Tx& tx) -> Status {
    auto r = tx.exec("INSERT INTO survives (id, v) VALUES (2, 'x')");
    if (!r) return std::move(r).error();
    return Ok{};
  });
  ASSERT_FALSE(write_down);
  EXPECT_EQ(write_down.error().status(), 503u) << describe(write_down);

  ASSERT_EQ(pg_control("restart"), 0) << "scripts/test-postgres.sh restart failed";
  restarter.stopped = false;

  // The same object, not reopened: it answers again within 10 s.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  Result<Rows> again = ApiError::internal("not tried");
  while (std::chrono::steady_clock::now() < deadline) {
    again = db->query("SELECT v FROM survives WHERE id = $1", {std::int64_t{1}});
    if (again) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(again) << "no answer within 10 s of the restart: " << describe(again);
  EXPECT_EQ(again->text(0, "v"), "재시작 전");

  auto write_up = db->write([](Tx& tx) -> Status {
    auto r = tx.exec("INSERT INTO survives (id, v) VALUES ($1, $2)",
                     {std::int64_t{2}, std::string("재시작 후")});
    if (!r) return std::move(r).error();
    return Ok{};
  });
  EXPECT_TRUE(write_up) << describe(write_up);
  auto n = db->query("SELECT COUNT(*) AS n FROM survives");
  ASSERT_TRUE(n) << describe(n);
  EXPECT_EQ(n->integer(0, "n"), 2);
  EXPECT_TRUE(db->ping());
  const auto s = db->pool_stats();
  EXPECT_GE(s.replaced, 2u) << "the broken connections were not replaced";
  EXPECT_LE(s.open, 4u);
}

INSTANTIATE_TEST_SUITE_P(Storage, StoragePgRestart, ::testing::Values(Engine::kPostgres),
                         EngineName{});

}  // namespace
}  // namespace evald::db::storage_test
