// Migrations and query plans, on SQLite and PostgreSQL.

#include <algorithm>
#include <map>
#include <numeric>
#include <regex>
#include <set>
#include <thread>

#include "db/migrations.hpp"
#include "storage_support.hpp"

namespace evald::db::storage_test {
namespace {

class StorageMigrations : public EngineTest {};

std::vector<int> all_versions() {
  std::vector<int> v;
  for (const auto& m : migrations()) v.push_back(m.version);
  return v;
}

// True when `n` appears in `text` as a whole number (not as a part of a longer one).
bool names_number(const std::string& text, int n) {
  return std::regex_search(text, std::regex("(^|[^0-9])" + std::to_string(n) + "([^0-9]|$)"));
}

TEST_P(StorageMigrations, VersionsAreNumberedOneToLatest) {
  std::vector<int> expected(static_cast<std::size_t>(latest_schema_version()));
  std::iota(expected.begin(), expected.end(), 1);
  EXPECT_EQ(all_versions(), expected);
}

TEST_P(StorageMigrations, AppliesEveryVersionOnceThenNothing) {
  auto db = open();
  auto v0 = current_schema_version(*db);
  ASSERT_TRUE(v0) << describe(v0);
  EXPECT_EQ(*v0, 0);

  auto first = migrate(*db);
  ASSERT_TRUE(first) << describe(first);
  EXPECT_EQ(first->from, 0);
  EXPECT_EQ(first->to, latest_schema_version());
  EXPECT_EQ(first->applied, all_versions());

  auto second = migrate(*db);
  ASSERT_TRUE(second) << describe(second);
  EXPECT_TRUE(second->applied.empty());
  EXPECT_EQ(second->from, latest_schema_version());
  EXPECT_EQ(second->to, latest_schema_version());

  // A new Database object on the same storage sees the same state.
  auto again = open();
  auto third = migrate(*again);
  ASSERT_TRUE(third) << describe(third);
  EXPECT_TRUE(third->applied.empty());
  EXPECT_EQ(third->to, latest_schema_version());

  auto rows = db->query(
      "SELECT version, COUNT(*) AS n FROM schema_migrations GROUP BY version ORDER BY version");
  ASSERT_TRUE(rows) << describe(rows);
  ASSERT_EQ(rows->size(), all_versions().size());
  for (std::size_t i = 0; i < rows->size(); ++i) {
    EXPECT_EQ(rows->integer(i, "version"), all_versions()[i]);
    EXPECT_EQ(rows->integer(i, "n"), 1) << "version " << rows->integer(i, "version");
  }
  auto total = db->query("SELECT COUNT(*) AS n FROM schema_migrations");
  ASSERT_TRUE(total) << describe(total);
  EXPECT_EQ(total->integer(0, "n"), static_cast<std::int64_t>(all_versions().size()));
  auto v = current_schema_version(*db);
  ASSERT_TRUE(v) << describe(v);
  EXPECT_EQ(*v, latest_schema_version());
}

TEST_P(StorageMigrations, StopsAtTheRequestedTarget) {
  auto db = open();
  auto none = migrate(*db, 0);
  ASSERT_TRUE(none) << describe(none);
  EXPECT_TRUE(none->applied.empty());
  EXPECT_EQ(none->to, 0);
  auto tables = db->table_names();
  ASSERT_TRUE(tables) << describe(tables);
  EXPECT_EQ(*tables, std::vector<std::string>{"schema_migrations"});
}

TEST_P(StorageMigrations, RefusesADatabaseNewerThanThisBinary) {
  auto db = open();
  ASSERT_TRUE(migrate(*db));
  const int newer = std::max(999, latest_schema_version() + 1);
  auto st = db->write([&](Tx& tx) -> Status {
    auto r =
        tx.exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                {std::int64_t{newer}, std::string("from the future"),
                 std::string("2030-01-01T00:00:00.000Z")});
    if (!r) return std::move(r).error();
    return Ok{};
  });
  ASSERT_TRUE(st) << describe(st);

  auto r = migrate(*db);
  ASSERT_FALSE(r) << "migrate() accepted a schema at version " << newer;
  const std::string& msg = r.error().message;
  EXPECT_TRUE(names_number(msg, newer)) << msg;
  // The binary's own version, named apart from the database's.
  std::string without = std::regex_replace(msg, std::regex(std::to_string(newer)), "");
  EXPECT_TRUE(names_number(without, latest_schema_version())) << msg;
  EXPECT_NE(msg.find("newer"), std::string::npos) << msg;
}

TEST_P(StorageMigrations, ANewerSchemaIsNotTouched) {
  auto db = open();
  auto st = db->write([&](Tx& tx) -> Status {
    if (auto s = tx.script("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                           "name TEXT NOT NULL, applied_at TEXT NOT NULL)");
        !s) {
      return s;
    }
    auto r = tx.exec(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES "
        "(999, 'future', '2030-01-01T00:00:00.000Z')");
    if (!r) return std::move(r).error();
    return Ok{};
  });
  ASSERT_TRUE(st) << describe(st);
  auto r = migrate(*db);
  EXPECT_FALSE(r);
  auto tables = db->table_names();
  ASSERT_TRUE(tables) << describe(tables);
  EXPECT_EQ(*tables, std::vector<std::string>{"schema_migrations"})
      << "migrate() created tables in a database newer than itself";
}

TEST_P(StorageMigrations, DependencyOrderListsExactlyTheSchemasTables) {
  auto db = open();
  ASSERT_TRUE(migrate(*db));
  auto names = db->table_names();
  ASSERT_TRUE(names) << describe(names);
  std::set<std::string> catalogue(names->begin(), names->end());
  EXPECT_EQ(catalogue.count("schema_migrations"), 1u);
  catalogue.erase("schema_migrations");

  const auto& order = tables_in_dependency_order();
  std::set<std::string> listed(order.begin(), order.end());
  EXPECT_EQ(listed.size(), order.size()) << "a table is listed twice";
  EXPECT_EQ(listed, catalogue);
}

TEST_P(StorageMigrations, DependencyOrderPutsParentsBeforeChildren) {
  auto db = open();
  ASSERT_TRUE(migrate(*db));
  const char* sql =
      engine() == Engine::kSqlite
          ? "SELECT m.name AS child, f.\"table\" AS parent FROM sqlite_master m, "
            "pragma_foreign_key_list(m.name) f WHERE m.type = 'table'"
          : "SELECT cl.relname::text AS child, pr.relname::text AS parent FROM pg_constraint c "
            "JOIN pg_class cl ON cl.oid = c.conrelid JOIN pg_class pr ON pr.oid = c.confrelid "
            "WHERE c.contype = 'f'";
  auto fks = db->query(sql);
  ASSERT_TRUE(fks) << describe(fks);
  ASSERT_GT(fks->size(), 5u) << "the schema's foreign keys were not found";
  const auto& order = tables_in_dependency_order();
  auto pos = [&](const std::string& t) {
    return std::find(order.begin(), order.end(), t) - order.begin();
  };
  for (std::size_t i = 0; i < fks->size(); ++i) {
    const auto child = fks->text(i, "child");
    const auto parent = fks->text(i, "parent");
    if (child == parent) continue;
    EXPECT_LT(pos(parent), pos(child)) << parent << " must come before " << child;
  }
}

// "Safe to run twice and from two processes at once": several Database objects (as separate
// processes would have) migrate one empty database at the same moment.
TEST_P(StorageMigrations, ConcurrentMigrationsFromSeveralConnectionsAgree) {
  constexpr int kRounds = 3;
  constexpr int kParallel = 4;
  for (int round = 0; round < kRounds; ++round) {
    if (round > 0) {
      if (engine() == Engine::kPostgres) {
        ASSERT_TRUE(reset_pg_schema(url()));
      } else {
        remove_sqlite_files(sqlite_path_);
      }
    }
    std::vector<std::unique_ptr<Database>> dbs;
    for (int i = 0; i < kParallel; ++i) dbs.push_back(open());
    std::vector<std::optional<Result<MigrateReport>>> results(kParallel);
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kParallel; ++i) {
      threads.emplace_back([&, i] {
        ++ready;
        while (ready.load() < kParallel) std::this_thread::yield();
        results[i].emplace(migrate(*dbs[i]));
      });
    }
    for (auto& t : threads) t.join();
    std::vector<int> applied;
    for (int i = 0; i < kParallel; ++i) {
      ASSERT_TRUE(*results[i]) << "round " << round << " migrator " << i << ": "
                               << describe(*results[i]);
      EXPECT_EQ((*results[i])->to, latest_schema_version());
      for (int v : (*results[i])->applied) applied.push_back(v);
    }
    std::sort(applied.begin(), applied.end());
    EXPECT_EQ(applied, all_versions()) << "each version must be applied exactly once";
    auto n = dbs[0]->query("SELECT COUNT(*) AS n FROM schema_migrations");
    ASSERT_TRUE(n) << describe(n);
    EXPECT_EQ(n->integer(0, "n"), static_cast<std::int64_t>(all_versions().size()));
  }
}

// ---------------------------------------------------------------------------------------------
// Query plans: the main lookups use an index on both engines.

struct Lookup {
  const char* name;
  const char* table;
  const char* sql;
  Params params;
  bool ordered;  // an ORDER BY the index must serve (no separate sort)
};

std::vector<Lookup> lookups() {
  const std::string t = "2026-01-15T10:30:00.000Z";
  return {
      {"user by login_id",
       "users",
       "SELECT id, password_hash FROM users WHERE login_id = $1",
       {std::string("kim")},
       false},
      {"user by email",
       "users",
       "SELECT id FROM users WHERE email = $1",
       {std::string("kim@example.com")},
       false},
      {"sessions by user",
       "sessions",
       "SELECT id_hash, expires_at FROM sessions WHERE user_id = $1",
       {std::string("u1")},
       false},
      {"companies by project",
       "companies",
       "SELECT id, name FROM companies WHERE project_id = $1",
       {std::string("p1")},
       false},
      {"sheets by evaluator and status",
       "evaluation_sheets",
       "SELECT id FROM evaluation_sheets WHERE evaluator_id = $1 AND status = $2",
       {std::string("u1"), std::string("assigned")},
       false},
      {"sheets by project",
       "evaluation_sheets",
       "SELECT id FROM evaluation_sheets WHERE project_id = $1",
       {std::string("p1")},
       false},
      {"sheets by company",
       "evaluation_sheets",
       "SELECT id FROM evaluation_sheets WHERE company_id = $1",
       {std::string("c1")},
       false},
      {"template items in order",
       "template_items",
       "SELECT id, name, sort_order FROM template_items WHERE template_id = $1 ORDER BY sort_order",
       {std::string("t1")},
       true},
      {"security events of a user, newest first",
       "security_events",
       "SELECT id, event_type, created_at FROM security_events WHERE user_id = $1 "
       "ORDER BY created_at DESC LIMIT 50",
       {std::string("u1")},
       true},
      {"error log by time range",
       "error_log",
       "SELECT id, error_code FROM error_log WHERE created_at >= $1 AND created_at < $2",
       {std::string("2026-01-01T00:00:00.000Z"), t},
       false},
      {"mail outbox due",
       "mail_outbox",
       "SELECT id FROM mail_outbox WHERE status = $1 AND next_attempt_at <= $2 "
       "ORDER BY next_attempt_at LIMIT 20",
       {std::string("pending"), t},
       true},
      {"password reset by token hash",
       "password_resets",
       "SELECT id, user_id, expires_at FROM password_resets WHERE token_hash = $1",
       {std::string("abc")},
       false},
  };
}

std::string plan_of(Database& db, const Lookup& l) {
  std::string plan;
  auto st = db.read([&](Tx& tx) -> Status {
    if (db.engine() == Engine::kPostgres) {
      if (auto s = tx.script("SET LOCAL enable_seqscan = off"); !s) return s;
      // On an empty table the planner may prefer a bitmap scan plus a sort; penalising sorts
      // shows whether an index can deliver the order at all.
      if (l.ordered) {
        if (auto s = tx.script("SET LOCAL enable_sort = off"); !s) return s;
      }
    }
    const std::string prefix = db.engine() == Engine::kSqlite ? "EXPLAIN QUERY PLAN " : "EXPLAIN ";
    auto rows = tx.query(prefix + l.sql, l.params);
    if (!rows) return std::move(rows).error();
    const std::string col = db.engine() == Engine::kSqlite ? "detail" : rows->columns.at(0);
    for (std::size_t i = 0; i < rows->size(); ++i) plan += rows->text(i, col) + "\n";
    return Ok{};
  });
  if (!st) return "(EXPLAIN failed: " + describe(st.error()) + ")";
  return plan;
}

TEST_P(StorageMigrations, MainLookupsUseAnIndex) {
  auto db = open();
  ASSERT_TRUE(migrate(*db));
  for (const auto& l : lookups()) {
    SCOPED_TRACE(l.name);
    const std::string plan = plan_of(*db, l);
    const std::string table = l.table;
    EXPECT_NE(plan.find(table), std::string::npos) << plan;
    if (engine() == Engine::kSqlite) {
      const bool indexed = plan.find("USING INDEX") != std::string::npos ||
                           plan.find("USING COVERING INDEX") != std::string::npos ||
                           plan.find("PRIMARY KEY") != std::string::npos ||
                           plan.find("sqlite_autoindex") != std::string::npos;
      EXPECT_TRUE(indexed) << plan;
      EXPECT_FALSE(std::regex_search(plan, std::regex("SCAN " + table + "\\s*(\n|$)")))
          << "full table scan:\n"
          << plan;
      EXPECT_NE(plan.find("SEARCH " + table), std::string::npos) << "no index seek:\n" << plan;
      if (l.ordered) {
        EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << "sorts separately:\n" << plan;
      }
    } else {
      const bool indexed = plan.find("Index Scan") != std::string::npos ||
                           plan.find("Index Only Scan") != std::string::npos ||
                           plan.find("Bitmap Index Scan") != std::string::npos;
      EXPECT_TRUE(indexed) << plan;
      EXPECT_EQ(plan.find("Seq Scan"), std::string::npos) << plan;
      if (l.ordered) {
        EXPECT_EQ(plan.find("Sort  ("), std::string::npos) << "sorts separately:\n" << plan;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Storage, StorageMigrations,
                         ::testing::Values(Engine::kSqlite, Engine::kPostgres), EngineName{});

}  // namespace
}  // namespace evald::db::storage_test
