// Concurrency: SQLite's single writer under many threads, and PostgreSQL's bounded pool.

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <mutex>
#include <thread>

#include "storage_support.hpp"

namespace evald::db::storage_test {
namespace {

using namespace std::chrono_literals;

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit = 5000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

TEST(StorageSqliteConcurrency, ManyThreadsWritingAtOnceAllSucceed) {
  const std::string path = temp_sqlite_path();
  struct Cleanup {
    std::string p;
    ~Cleanup() { remove_sqlite_files(p); }
  } cleanup{path};
  RealClock clock;
  DatabaseOptions o;
  o.url = "sqlite://" + path;
  o.readers = 4;
  auto db = open_database(o, clock);
  ASSERT_TRUE(db->write([](Tx& tx) {
    return tx.script("CREATE TABLE hits (id BIGINT PRIMARY KEY, thread BIGINT NOT NULL)");
  }));

  constexpr int kThreads = 8;
  constexpr int kWrites = 200;
  std::atomic<int> ok{0};
  std::mutex mu;
  std::vector<std::string> errors;
  std::latch start(kThreads + 2);
  std::atomic<bool> writers_done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kWrites; ++i) {
        auto st = db->write([&](Tx& tx) -> Status {
          auto r = tx.exec("INSERT INTO hits (id, thread) VALUES ($1, $2)",
                           {std::int64_t{t * kWrites + i}, std::int64_t{t}});
          if (!r) return std::move(r).error();
          return Ok{};
        });
        if (st) {
          ++ok;
        } else {
          std::lock_guard lock(mu);
          errors.push_back(describe(st.error()));
        }
      }
    });
  }
  // Readers run alongside: they must neither fail nor block the writers.
  std::atomic<int> read_failures{0};
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      while (!writers_done.load()) {
        auto rows = db->query("SELECT COUNT(*) AS n FROM hits");
        if (!rows) {
          ++read_failures;
          std::lock_guard lock(mu);
          errors.push_back("read: " + describe(rows.error()));
        }
      }
    });
  }
  for (int t = 0; t < kThreads; ++t) threads[t].join();
  writers_done = true;
  for (std::size_t t = kThreads; t < threads.size(); ++t) threads[t].join();

  EXPECT_EQ(ok.load(), kThreads * kWrites);
  EXPECT_EQ(read_failures.load(), 0);
  bool locked = false;
  for (const auto& e : errors) locked |= e.find("locked") != std::string::npos;
  EXPECT_FALSE(locked) << "\"database is locked\" reached a caller";
  EXPECT_TRUE(errors.empty()) << errors.size() << " errors, first: " << errors.front();
  auto n = db->query("SELECT COUNT(*) AS n, COUNT(DISTINCT thread) AS t FROM hits");
  ASSERT_TRUE(n) << describe(n);
  EXPECT_EQ(n->integer(0, "n"), kThreads * kWrites);
  EXPECT_EQ(n->integer(0, "t"), kThreads);
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL pool

class StoragePgPool : public ::testing::Test {
 protected:
  void SetUp() override {
    if (pg_url().empty()) {
      if (pg_required()) FAIL() << "EVALD_REQUIRE_PG=1 but EVALD_TEST_PG_URL is not set";
      GTEST_SKIP() << "EVALD_TEST_PG_URL is not set (run under scripts/with-postgres.sh)";
    }
    ASSERT_TRUE(reset_pg_schema(pg_url()));
  }
  RealClock clock_;
};

TEST_F(StoragePgPool, OpensTheMinimumAtOnce) {
  DatabaseOptions o;
  o.url = pg_url();
  o.min_pool_size = 3;
  o.max_pool_size = 5;
  auto db = open_database(o, clock_);
  const auto s = db->pool_stats();
  EXPECT_EQ(s.open, 3u);
  EXPECT_EQ(s.idle, 3u);
  EXPECT_EQ(s.in_use, 0u);
  EXPECT_EQ(s.max, 5u);
  EXPECT_EQ(s.failed_connects, 0u);
}

TEST_F(StoragePgPool, AnExhaustedPoolAnswers503AfterTheWaitAndRecovers) {
  DatabaseOptions o;
  o.url = pg_url();
  o.min_pool_size = 2;
  o.max_pool_size = 2;
  o.pool_wait_ms = 300;
  auto db = open_database(o, clock_);
  EXPECT_EQ(db->pool_stats().open, 2u);
  ASSERT_TRUE(db->write([](Tx& tx) { return tx.script("CREATE TABLE held (id BIGINT)"); }));

  std::atomic<int> holding{0};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::vector<std::optional<Status>> held(2);
  std::vector<std::thread> holders;
  struct Guard {  // never leave the holders blocked, whatever fails below
    std::promise<void>& p;
    std::vector<std::thread>& t;
    bool done = false;
    void finish() {
      if (done) return;
      done = true;
      p.set_value();
      for (auto& th : t) th.join();
    }
    ~Guard() { finish(); }
  } guard{release, holders};
  for (int i = 0; i < 2; ++i) {
    holders.emplace_back([&, i] {
      held[i].emplace(db->write([&](Tx& tx) -> Status {
        auto r = tx.exec("INSERT INTO held (id) VALUES ($1)", {std::int64_t{i}});
        ++holding;
        released.wait();
        if (!r) return std::move(r).error();
        return Ok{};
      }));
    });
  }
  ASSERT_TRUE(wait_until([&] { return holding.load() == 2; }))
      << "the two holders never got their connections";
  EXPECT_EQ(db->pool_stats().in_use, 2u);

  const auto start = std::chrono::steady_clock::now();
  auto third = db->write([](Tx& tx) -> Status {
    auto r = tx.exec("INSERT INTO held (id) VALUES (99)");
    if (!r) return std::move(r).error();
    return Ok{};
  });
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(third) << "a third write got a connection from a pool of two";
  EXPECT_EQ(third.error().code, ErrorCode::kDatabaseError) << describe(third);
  EXPECT_EQ(third.error().status(), 503u) << describe(third);
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 3s);
  EXPECT_EQ(db->pool_stats().timeouts, 1u);

  guard.finish();
  for (const auto& h : held) {
    ASSERT_TRUE(h.has_value());
    EXPECT_TRUE(*h) << describe(*h);
  }
  auto after = db->write([](Tx& tx) -> Status {
    auto r = tx.exec("INSERT INTO held (id) VALUES (2)");
    if (!r) return std::move(r).error();
    return Ok{};
  });
  EXPECT_TRUE(after) << describe(after);
  auto n = db->query("SELECT COUNT(*) AS n FROM held");
  ASSERT_TRUE(n) << describe(n);
  EXPECT_EQ(n->integer(0, "n"), 3) << "the timed-out write must not have written";
  const auto s = db->pool_stats();
  EXPECT_EQ(s.timeouts, 1u);
  EXPECT_LE(s.open, 2u);
  EXPECT_EQ(s.in_use, 0u);
}

TEST_F(StoragePgPool, AWaiterGetsAConnectionReleasedWithinTheWait) {
  DatabaseOptions o;
  o.url = pg_url();
  o.min_pool_size = 1;
  o.max_pool_size = 1;
  o.pool_wait_ms = 2000;
  auto db = open_database(o, clock_);
  std::atomic<bool> holding{false};
  std::thread holder([&] {
    (void)db->read([&](Tx&) -> Status {
      holding = true;
      std::this_thread::sleep_for(100ms);
      return Ok{};
    });
  });
  if (!wait_until([&] { return holding.load(); })) {
    holder.join();
    FAIL() << "the holder never got its connection";
  }
  auto r = db->query("SELECT 1 AS one");
  holder.join();
  ASSERT_TRUE(r) << describe(r);
  EXPECT_EQ(r->integer(0, "one"), 1);
  EXPECT_EQ(db->pool_stats().timeouts, 0u);
  EXPECT_GE(db->pool_stats().waits, 1u);
}

}  // namespace
}  // namespace evald::db::storage_test
