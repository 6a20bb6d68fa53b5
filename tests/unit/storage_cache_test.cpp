// The query cache and the query monitor: pure unit tests, and through Database on both engines.

#include <chrono>

#include "db/cache.hpp"
#include "db/monitor.hpp"
#include "storage_support.hpp"

namespace evald::db::storage_test {
namespace {

using namespace std::chrono_literals;

Rows one_cell(std::string v) {
  Rows r;
  r.columns = {"v"};
  r.rows = {{Value{std::move(v)}}};
  return r;
}

std::string cell(const std::optional<Rows>& r) {
  if (!r) return "(miss)";
  return r->text(0, "v");
}

// ---------------------------------------------------------------------------------------------
// QueryCache alone

TEST(StorageQueryCache, StoresAndServesAFreshEntry) {
  ManualClock clock;
  QueryCache cache(clock, 60s, 10);
  ASSERT_TRUE(cache.enabled());
  const std::vector<std::string> t{"users"};
  EXPECT_EQ(cell(cache.get("k", t)), "(miss)");
  cache.put("k", one_cell("a"), t, cache.generations(t));
  EXPECT_EQ(cell(cache.get("k", t)), "a");
  const auto s = cache.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.entries, 1u);
}

TEST(StorageQueryCache, APutWithStaleGenerationsIsNotStored) {
  ManualClock clock;
  QueryCache cache(clock, 60s, 10);
  const std::vector<std::string> t{"users", "sessions"};
  const auto seen = cache.generations(t);
  cache.invalidate({"sessions"});  // a write committed while the query ran
  cache.put("k", one_cell("old"), t, seen);
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(cell(cache.get("k", t)), "(miss)");

  // A put whose generations are current is stored.
  cache.put("k", one_cell("new"), t, cache.generations(t));
  EXPECT_EQ(cell(cache.get("k", t)), "new");
}

TEST(StorageQueryCache, AWriteToAReadTableInvalidatesOnlyThoseEntries) {
  ManualClock clock;
  QueryCache cache(clock, 60s, 10);
  cache.put("a", one_cell("A"), {"users"}, cache.generations({"users"}));
  cache.put("b", one_cell("B"), {"projects", "companies"},
            cache.generations({"projects", "companies"}));
  cache.invalidate({"companies"});
  EXPECT_EQ(cell(cache.get("a", {"users"})), "A");
  EXPECT_EQ(cell(cache.get("b", {"projects", "companies"})), "(miss)");
  EXPECT_EQ(cache.stats().invalidations, 1u);
}

TEST(StorageQueryCache, EntriesExpireAfterTheTtl) {
  ManualClock clock;
  QueryCache cache(clock, 30s, 10);
  const std::vector<std::string> t{"users"};
  cache.put("k", one_cell("a"), t, cache.generations(t));
  clock.advance(29s);
  EXPECT_EQ(cell(cache.get("k", t)), "a");
  clock.advance(2s);
  EXPECT_EQ(cell(cache.get("k", t)), "(miss)");
  EXPECT_EQ(cache.stats().expirations, 1u);
  EXPECT_EQ(cache.stats().entries, 0u);
}

TEST(StorageQueryCache, TheSizeBoundEvictsTheLeastRecentlyUsed) {
  ManualClock clock;
  QueryCache cache(clock, 60s, 2);
  const std::vector<std::string> t{"users"};
  cache.put("k1", one_cell("1"), t, cache.generations(t));
  cache.put("k2", one_cell("2"), t, cache.generations(t));
  EXPECT_EQ(cell(cache.get("k1", t)), "1");  // k2 is now the least recently used
  cache.put("k3", one_cell("3"), t, cache.generations(t));
  EXPECT_EQ(cache.stats().evictions, 1u);
  EXPECT_EQ(cache.stats().entries, 2u);
  EXPECT_EQ(cell(cache.get("k1", t)), "1");
  EXPECT_EQ(cell(cache.get("k3", t)), "3");
  EXPECT_EQ(cell(cache.get("k2", t)), "(miss)");
}

TEST(StorageQueryCache, ZeroTtlOrSizeDisablesIt) {
  ManualClock clock;
  QueryCache off(clock, 0s, 10);
  EXPECT_FALSE(off.enabled());
  off.put("k", one_cell("a"), {"t"}, off.generations({"t"}));
  EXPECT_EQ(off.stats().entries, 0u);
  QueryCache none(clock, 60s, 0);
  EXPECT_FALSE(none.enabled());
}

// ---------------------------------------------------------------------------------------------
// QueryMonitor alone

TEST(StorageQueryMonitor, CountsFailuresMeanAndMaxPerStatement) {
  ManualClock clock;
  QueryMonitor m(clock, 25ms);
  m.record("SELECT a FROM t WHERE id = $1", 10ms, true);
  m.record("SELECT a FROM t WHERE id = $1", 30ms, false);
  m.record("SELECT b FROM u", 5ms, true);
  EXPECT_EQ(m.total_queries(), 3u);
  EXPECT_EQ(m.total_failures(), 1u);
  EXPECT_EQ(m.total_slow(), 1u);
  const auto stats = m.statements();
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0].sql, "SELECT a FROM t WHERE id = $1");  // most total time first
  EXPECT_EQ(stats[0].count, 2u);
  EXPECT_EQ(stats[0].failures, 1u);
  EXPECT_NEAR(stats[0].mean_ms(), 20.0, 1e-9);
  EXPECT_NEAR(stats[0].max_ms, 30.0, 1e-9);
  EXPECT_EQ(stats[0].slow, 1u);
  EXPECT_EQ(stats[1].sql, "SELECT b FROM u");
  EXPECT_EQ(stats[1].count, 1u);
  EXPECT_EQ(stats[1].failures, 0u);
  const auto slow = m.recent_slow();
  ASSERT_EQ(slow.size(), 1u);
  EXPECT_EQ(slow[0].sql, "SELECT a FROM t WHERE id = $1");
  EXPECT_NEAR(slow[0].ms, 30.0, 1e-9);
  EXPECT_EQ(slow[0].at, clock.now());
}

TEST(StorageQueryMonitor, RecentSlowIsNewestFirstAndBounded) {
  ManualClock clock;
  QueryMonitor m(clock, 1ms);
  for (std::size_t i = 0; i < QueryMonitor::kRecentSlow + 10; ++i) {
    m.record("Q" + std::to_string(i), 2ms, true);
    clock.advance(1s);
  }
  const auto slow = m.recent_slow();
  ASSERT_EQ(slow.size(), QueryMonitor::kRecentSlow);
  EXPECT_EQ(slow.front().sql, "Q" + std::to_string(QueryMonitor::kRecentSlow + 9));
  EXPECT_EQ(slow.back().sql, "Q10");
}

TEST(StorageQueryMonitor, TooManyShapesFoldIntoOther) {
  ManualClock clock;
  QueryMonitor m(clock, 1s);
  for (std::size_t i = 0; i < QueryMonitor::kMaxShapes + 5; ++i) {
    m.record("SELECT " + std::to_string(i), 1ms, true);
  }
  const auto stats = m.statements();
  EXPECT_EQ(stats.size(), QueryMonitor::kMaxShapes + 1);
  auto other = std::find_if(stats.begin(), stats.end(),
                            [](const StatementStats& s) { return s.sql == "(other)"; });
  ASSERT_NE(other, stats.end());
  EXPECT_EQ(other->count, 5u);
}

// ---------------------------------------------------------------------------------------------
// Through Database, on both engines

class StorageCache : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto setup = open();
    auto st = setup->write([](Tx& tx) -> Status {
      if (auto s = tx.script("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)"); !s) return s;
      if (auto s = tx.script("CREATE TABLE other (k TEXT PRIMARY KEY)"); !s) return s;
      auto r = tx.exec("INSERT INTO kv (k, v) VALUES ('a', 'one'), ('b', 'bee'), ('c', 'sea')");
      if (!r) return std::move(r).error();
      return Ok{};
    });
    ASSERT_TRUE(st) << describe(st);
  }

  std::unique_ptr<Database> open_cached(std::size_t max_entries = 100) {
    auto o = options();
    o.query_cache_ttl_seconds = 60;
    o.query_cache_max_entries = max_entries;
    return open(o, manual_);
  }

  std::string get_v(Database& db, const std::string& k) {
    auto r = db.cached_query(kSql, {k}, {"kv"});
    if (!r) return "(error " + describe(r.error()) + ")";
    return r->empty() ? "(none)" : r->text(0, "v");
  }

  // Changes a row behind the cache's back: through another Database object.
  void set_behind(const std::string& k, const std::string& v) {
    auto raw = open();
    auto st = raw->write([&](Tx& tx) -> Status {
      auto r = tx.exec("UPDATE kv SET v = $1 WHERE k = $2", {v, k});
      if (!r) return std::move(r).error();
      return Ok{};
    });
    ASSERT_TRUE(st) << describe(st);
  }

  static constexpr const char* kSql = "SELECT v FROM kv WHERE k = $1";
  ManualClock manual_;
};

TEST_P(StorageCache, ASecondIdenticalReadIsServedFromTheCache) {
  auto db = open_cached();
  EXPECT_EQ(get_v(*db, "a"), "one");
  EXPECT_EQ(db->cache().stats().misses, 1u);
  EXPECT_EQ(db->cache().stats().hits, 0u);
  EXPECT_EQ(get_v(*db, "a"), "one");
  EXPECT_EQ(db->cache().stats().hits, 1u);

  set_behind("a", "changed behind");
  EXPECT_EQ(get_v(*db, "a"), "one") << "not served from the cache";
  EXPECT_EQ(db->cache().stats().hits, 2u);
  auto direct = db->query(kSql, {std::string("a")});
  ASSERT_TRUE(direct) << describe(direct);
  EXPECT_EQ(direct->text(0, "v"), "changed behind");
}

TEST_P(StorageCache, AWriteThroughTheSameDatabaseInvalidatesAtOnce) {
  auto db = open_cached();
  EXPECT_EQ(get_v(*db, "a"), "one");
  EXPECT_EQ(get_v(*db, "a"), "one");
  const auto before = db->cache().stats();

  // A write to an unrelated table leaves the entry alone.
  ASSERT_TRUE(db->write([](Tx& tx) -> Status {
    auto r = tx.exec("INSERT INTO other (k) VALUES ($1)", {std::string("x")});
    if (!r) return std::move(r).error();
    return Ok{};
  }));
  EXPECT_EQ(get_v(*db, "a"), "one");
  EXPECT_EQ(db->cache().stats().hits, before.hits + 1);

  ASSERT_TRUE(db->write([](Tx& tx) -> Status {
    auto r = tx.exec("UPDATE kv SET v = $1 WHERE k = $2", {std::string("two"), std::string("a")});
    if (!r) return std::move(r).error();
    return Ok{};
  }));
  EXPECT_EQ(get_v(*db, "a"), "two");
  EXPECT_EQ(db->cache().stats().misses, before.misses + 1);
  EXPECT_EQ(get_v(*db, "a"), "two");

  // A DELETE invalidates as well.
  ASSERT_TRUE(db->write([](Tx& tx) -> Status {
    auto r = tx.exec("DELETE FROM kv WHERE k = $1", {std::string("a")});
    if (!r) return std::move(r).error();
    return Ok{};
  }));
  EXPECT_EQ(get_v(*db, "a"), "(none)");
}

TEST_P(StorageCache, EntriesExpireAfterTheTtl) {
  auto db = open_cached();
  EXPECT_EQ(get_v(*db, "a"), "one");
  set_behind("a", "later");
  manual_.advance(59s);
  EXPECT_EQ(get_v(*db, "a"), "one") << "expired before its TTL";
  const auto misses = db->cache().stats().misses;
  manual_.advance(2s);
  EXPECT_EQ(get_v(*db, "a"), "later");
  EXPECT_EQ(db->cache().stats().misses, misses + 1);
  EXPECT_EQ(db->cache().stats().expirations, 1u);
}

TEST_P(StorageCache, TheSizeBoundEvicts) {
  auto db = open_cached(2);
  EXPECT_EQ(get_v(*db, "a"), "one");
  EXPECT_EQ(get_v(*db, "b"), "bee");
  EXPECT_EQ(get_v(*db, "c"), "sea");
  EXPECT_EQ(db->cache().stats().evictions, 1u);
  EXPECT_EQ(db->cache().stats().entries, 2u);
}

TEST_P(StorageCache, DistinctParametersNeverShareAnEntry) {
  auto db = open_cached();
  const char* sql = "SELECT CAST($1 AS DOUBLE PRECISION) AS v";
  for (double d : {0.1234567, 0.1234568, 1e-9, 2e-9, 1e20, 1.0000000000000002e20}) {
    auto r = db->cached_query(sql, {d}, {"kv"});
    ASSERT_TRUE(r) << describe(r);
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->rows[0][0], Value{d}) << "parameter " << show(Value{d}) << " answered with "
                                       << show(r->rows[0][0]) << " from another entry";
  }
  auto t1 = db->cached_query(kSql, {std::string("a")}, {"kv"});
  auto t2 = db->cached_query(kSql, {std::string("b")}, {"kv"});
  ASSERT_TRUE(t1 && t2);
  EXPECT_EQ(t1->text(0, "v"), "one");
  EXPECT_EQ(t2->text(0, "v"), "bee");
}

// ---------------------------------------------------------------------------------------------
// QueryMonitor through Database

class StorageMonitor : public StorageCache {};

TEST_P(StorageMonitor, CountsAndFailuresPerStatementText) {
  auto db = open();
  const std::string sel = "SELECT v FROM kv WHERE k = $1";
  for (const char* k : {"a", "b", "zz"}) ASSERT_TRUE(db->query(sel, {std::string(k)}));
  const std::string ins = "INSERT INTO kv (k, v) VALUES ($1, $2)";
  for (const char* k : {"new", "a"}) {
    (void)db->write([&](Tx& tx) -> Status {
      auto r = tx.exec(ins, {std::string(k), std::string("v")});
      if (!r) return std::move(r).error();
      return Ok{};
    });
  }
  std::optional<StatementStats> s_sel, s_ins;
  for (const auto& s : db->monitor().statements()) {
    if (s.sql == sel) s_sel = s;
    if (s.sql == ins) s_ins = s;
  }
  ASSERT_TRUE(s_sel);
  ASSERT_TRUE(s_ins);
  EXPECT_EQ(s_sel->count, 3u);
  EXPECT_EQ(s_sel->failures, 0u);
  EXPECT_EQ(s_ins->count, 2u);
  EXPECT_EQ(s_ins->failures, 1u);
  EXPECT_GT(s_sel->total_ms, 0.0);
  EXPECT_GE(s_sel->max_ms, s_sel->mean_ms());
  EXPECT_NEAR(s_sel->mean_ms(), s_sel->total_ms / 3.0, 1e-9);
  EXPECT_GE(db->monitor().total_failures(), 1u);
}

TEST_P(StorageMonitor, SlowQueriesAreKeptWithTheirTextButNeverTheirValues) {
  auto o = options();
  o.slow_query_ms = 1;
  auto db = open(o);
  const std::string secret = "TOPSECRET-9f41c2-password";
  const std::string sql =
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) "
      "SELECT COUNT(*) AS n, CAST($1 AS TEXT) AS tag FROM c";
  auto r = db->query(sql, {secret});
  ASSERT_TRUE(r) << describe(r);
  EXPECT_EQ(r->integer(0, "n"), 300000);
  EXPECT_EQ(r->text(0, "tag"), secret);

  const auto slow = db->monitor().recent_slow();
  bool found = false;
  for (const auto& s : slow) {
    if (s.sql == sql) {
      found = true;
      EXPECT_GE(s.ms, 1.0);
    }
    EXPECT_EQ(s.sql.find(secret), std::string::npos) << "a slow entry carries the value";
  }
  EXPECT_TRUE(found) << "the slow statement is missing from recent_slow()";
  EXPECT_GE(db->monitor().total_slow(), 1u);
  for (const auto& s : db->monitor().statements()) {
    EXPECT_EQ(s.sql.find(secret), std::string::npos) << "statement stats carry the value";
  }
}

INSTANTIATE_TEST_SUITE_P(Storage, StorageCache,
                         ::testing::Values(Engine::kSqlite, Engine::kPostgres), EngineName{});
INSTANTIATE_TEST_SUITE_P(Storage, StorageMonitor,
                         ::testing::Values(Engine::kSqlite, Engine::kPostgres), EngineName{});

}  // namespace
}  // namespace evald::db::storage_test
