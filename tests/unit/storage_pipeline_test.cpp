// exec_many: many parameter sets for one statement, pipelined on PostgreSQL, all or nothing.

#include <gtest/gtest.h>

#include "db/migrations.hpp"
#include "storage_support.hpp"

namespace evald::db::storage_test {
namespace {

class StoragePipeline : public EngineTest {};

std::vector<Params> lockout_rows(int n) {
  std::vector<Params> rows;
  for (int i = 0; i < n; ++i) {
    rows.push_back({std::string("login-") + std::to_string(i), std::int64_t{i % 7},
                    std::string("2026-01-01T00:00:00.000Z")});
  }
  return rows;
}

constexpr const char* kInsert =
    "INSERT INTO login_lockouts (login_id, failed_attempts, updated_at) VALUES ($1, $2, $3)";

TEST_P(StoragePipeline, WritesEveryRowAcrossSeveralBatches) {
  auto db = open();
  ASSERT_TRUE(migrate(*db));
  const auto rows = lockout_rows(1000);  // more than one pipeline batch
  ASSERT_TRUE(db->write([&](Tx& tx) { return tx.exec_many(kInsert, rows); }));
  auto n = db->query("SELECT COUNT(*) AS n, SUM(failed_attempts) AS s FROM login_lockouts");
  ASSERT_TRUE(n) << describe(n.error());
  EXPECT_EQ(n->integer(0, "n"), 1000);
  std::int64_t sum = 0;
  for (int i = 0; i < 1000; ++i) sum += i % 7;
  EXPECT_EQ(n->integer(0, "s"), sum);
  // The connection is usable afterwards (left pipeline mode).
  EXPECT_TRUE(db->query("SELECT 1 AS one"));
}

TEST_P(StoragePipeline, AFailingRowWritesNothingAndNamesTheConflict) {
  auto db = open();
  ASSERT_TRUE(migrate(*db));
  auto rows = lockout_rows(600);
  rows[450] = rows[10];  // a duplicate key in the second batch
  auto st = db->write([&](Tx& tx) { return tx.exec_many(kInsert, rows); });
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kConflict) << describe(st.error());
  auto n = db->query("SELECT COUNT(*) AS n FROM login_lockouts");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->integer(0, "n"), 0);
  // And the pool hands out a healthy connection after the aborted pipeline.
  ASSERT_TRUE(db->write([&](Tx& tx) { return tx.exec_many(kInsert, lockout_rows(3)); }));
  EXPECT_EQ(db->query("SELECT COUNT(*) AS n FROM login_lockouts")->integer(0, "n"), 3);
}

INSTANTIATE_TEST_SUITE_P(Storage, StoragePipeline,
                         ::testing::Values(Engine::kSqlite, Engine::kPostgres), EngineName{});

}  // namespace
}  // namespace evald::db::storage_test
