// The error log writer: queue, batches, bound, prune and stop, on a migrated SQLite file and a
// manual clock; and which statuses belong in the log.

#include "monitoring/error_log.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/time_format.hpp"
#include "db/migrations.hpp"
#include "storage_support.hpp"

namespace evald::monitoring {
namespace {

using namespace std::chrono_literals;
using db::storage_test::describe;

class ErrorLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = db::storage_test::temp_sqlite_path();
    db::DatabaseOptions o;
    o.url = "sqlite://" + path_;
    o.min_pool_size = 1;
    o.max_pool_size = 4;
    db_ = db::open_database(o, clock_);
    auto m = db::migrate(*db_);
    ASSERT_TRUE(m) << describe(m);
  }
  void TearDown() override {
    db_.reset();
    db::storage_test::remove_sqlite_files(path_);
  }

  ErrorEntry entry(const std::string& request_id) const {
    ErrorEntry e;
    e.error_code = "AUTH_FAILED";
    e.category = "authentication";
    e.severity = "medium";
    e.status = 401;
    e.request_id = request_id;
    e.user_id = "user-" + request_id;
    e.method = "POST";
    e.route = "/auth/login";
    e.client_ip = "127.0.0.1";
    e.user_agent = "unit-test/1.0";
    e.created_at = format_iso8601(clock_.now(), true);
    return e;
  }

  static ErrorLogOptions options(std::size_t capacity = 100, std::size_t batch = 10) {
    ErrorLogOptions o;
    o.capacity = capacity;
    o.batch = batch;
    o.flush_interval = 1h;  // the thread, when started, writes only when told to
    o.retention_days = 30;
    o.prune_interval = 1h;
    return o;
  }

  std::int64_t count() {
    auto r = db_->query("SELECT COUNT(*) AS n FROM error_log");
    EXPECT_TRUE(r) << describe(r);
    return r ? r->integer(0, "n") : -1;
  }

  std::vector<std::string> request_ids() {
    auto r = db_->query("SELECT request_id FROM error_log ORDER BY request_id");
    EXPECT_TRUE(r) << describe(r);
    std::vector<std::string> out;
    if (!r) return out;
    for (std::size_t i = 0; i < r->size(); ++i) out.push_back(r->text(i, "request_id"));
    return out;
  }

  void insert_at(const std::string& id, SystemTime at) {
    auto st = db_->write([&](db::Tx& tx) -> Status {
      auto r = tx.exec(
          "INSERT INTO error_log (id, error_code, category, severity, status, created_at) "
          "VALUES ($1, $2, $3, $4, $5, $6)",
          {id, std::string("INTERNAL_SERVER_ERROR"), std::string("system"), std::string("critical"),
           std::int64_t{500}, format_iso8601(at, true)});
      if (!r) return std::move(r).error();
      return Ok{};
    });
    ASSERT_TRUE(st) << describe(st);
  }

  std::set<std::string> ids() {
    auto r = db_->query("SELECT id FROM error_log");
    EXPECT_TRUE(r) << describe(r);
    std::set<std::string> out;
    if (!r) return out;
    for (std::size_t i = 0; i < r->size(); ++i) out.insert(r->text(i, "id"));
    return out;
  }

  template <class Pred>
  static bool eventually(Pred pred, std::chrono::milliseconds timeout = 3s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(5ms);
    }
    return pred();
  }

  ManualClock clock_;
  std::string path_;
  std::unique_ptr<db::Database> db_;
};

TEST(ErrorLogStatus, LoggedStatusIsExactly401403423429And5xx) {
  for (unsigned s = 100; s <= 599; ++s) {
    const bool expected = s >= 500 || s == 401 || s == 403 || s == 423 || s == 429;
    EXPECT_EQ(logged_status(s), expected) << "status " << s;
  }
}

TEST_F(ErrorLogTest, RecordThenFlushWritesEveryField) {
  ErrorLogWriter w(*db_, clock_, options());
  ErrorEntry e;
  e.error_code = "INSUFFICIENT_PERMISSIONS";
  e.category = "authorization";
  e.severity = "medium";
  e.status = 403;
  e.request_id = "req-0001";
  e.user_id = "6f1c1c56-1111-4222-8333-944445555666";
  e.method = "GET";
  e.route = "/auth/lockout-status/{login_id}";
  e.client_ip = "203.0.113.9";
  e.user_agent = std::string(256, 'u');
  e.created_at = format_iso8601(clock_.now(), true);
  const ErrorEntry want = e;
  w.record(std::move(e));
  EXPECT_EQ(w.queued(), 1u);
  EXPECT_EQ(count(), 0) << "record() must not write by itself";

  EXPECT_EQ(w.flush(), 1u);
  EXPECT_EQ(w.written(), 1u);
  EXPECT_EQ(w.queued(), 0u);
  EXPECT_EQ(w.dropped(), 0u);
  EXPECT_EQ(w.failed(), 0u);

  auto r = db_->query(
      "SELECT id, error_code, category, severity, status, request_id, user_id, method, route, "
      "client_ip, user_agent, created_at FROM error_log");
  ASSERT_TRUE(r) << describe(r);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_FALSE(r->text(0, "id").empty());
  EXPECT_EQ(r->text(0, "error_code"), want.error_code);
  EXPECT_EQ(r->text(0, "category"), want.category);
  EXPECT_EQ(r->text(0, "severity"), want.severity);
  EXPECT_EQ(r->integer(0, "status"), 403);
  EXPECT_EQ(r->text(0, "request_id"), want.request_id);
  EXPECT_EQ(r->text(0, "user_id"), want.user_id);
  EXPECT_EQ(r->text(0, "method"), want.method);
  EXPECT_EQ(r->text(0, "route"), want.route);
  EXPECT_EQ(r->text(0, "client_ip"), want.client_ip);
  EXPECT_EQ(r->text(0, "user_agent"), want.user_agent);
  EXPECT_EQ(r->text(0, "created_at"), want.created_at);
  EXPECT_EQ(r->text(0, "created_at"), "2023-11-14T22:13:20.000Z");  // the manual clock's start

  // Nothing queued: a second flush writes nothing.
  EXPECT_EQ(w.flush(), 0u);
  EXPECT_EQ(count(), 1);
}

TEST_F(ErrorLogTest, EmptyOptionalFieldsAreStoredAsNull) {
  ErrorLogWriter w(*db_, clock_, options());
  ErrorEntry e = entry("");
  e.user_id.clear();  // anonymous
  e.user_agent.clear();
  w.record(std::move(e));
  ASSERT_EQ(w.flush(), 1u);
  auto r = db_->query("SELECT request_id, user_id, user_agent, route FROM error_log");
  ASSERT_TRUE(r) << describe(r);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_TRUE(r->null_at(0, "request_id"));
  EXPECT_TRUE(r->null_at(0, "user_id"));
  EXPECT_TRUE(r->null_at(0, "user_agent"));
  EXPECT_EQ(r->text(0, "route"), "/auth/login");
}

TEST_F(ErrorLogTest, BatchesLargerThanBatchAreAllWritten) {
  ErrorLogWriter w(*db_, clock_, options(/*capacity=*/100, /*batch=*/3));
  std::vector<std::string> want;
  for (int i = 0; i < 10; ++i) {
    want.push_back("r" + std::to_string(10 + i));
    w.record(entry(want.back()));
  }
  EXPECT_EQ(w.queued(), 10u);
  EXPECT_EQ(w.flush(), 10u);
  EXPECT_EQ(w.written(), 10u);
  EXPECT_EQ(w.queued(), 0u);
  EXPECT_EQ(w.dropped(), 0u);
  EXPECT_EQ(count(), 10);
  EXPECT_EQ(request_ids(), want);
  EXPECT_EQ(ids().size(), 10u) << "every row has an id of its own";
}

TEST_F(ErrorLogTest, QueueIsBoundedAndDropsAreCounted) {
  ErrorLogWriter w(*db_, clock_, options(/*capacity=*/3, /*batch=*/10));
  for (const char* id : {"a1", "a2", "a3"}) w.record(entry(id));
  EXPECT_EQ(w.queued(), 3u);
  EXPECT_EQ(w.dropped(), 0u);
  w.record(entry("a4"));  // full: dropped, not blocking
  EXPECT_EQ(w.queued(), 3u);
  EXPECT_EQ(w.dropped(), 1u);
  EXPECT_EQ(w.flush(), 3u);
  EXPECT_EQ(w.written(), 3u);
  EXPECT_EQ(count(), 3);
  EXPECT_EQ(request_ids(), (std::vector<std::string>{"a1", "a2", "a3"}));
  // Room again once written.
  w.record(entry("a5"));
  EXPECT_EQ(w.dropped(), 1u);
  EXPECT_EQ(w.flush(), 1u);
  EXPECT_EQ(w.written(), 4u);
  EXPECT_EQ(count(), 4);
}

TEST_F(ErrorLogTest, PruneDeletesRowsOlderThanTheRetentionPerTheClock) {
  ErrorLogWriter w(*db_, clock_, options());
  const auto now = clock_.now();
  const auto day = std::chrono::hours(24);
  insert_at("older-40d", now - 40 * day);
  insert_at("older-30d-1s", now - 30 * day - 1s);
  insert_at("exactly-30d", now - 30 * day);
  insert_at("newer-29d", now - 29 * day);
  insert_at("newer-1h", now - 1h);
  insert_at("now", now);

  EXPECT_EQ(w.prune(), 2u);
  EXPECT_EQ(ids(), (std::set<std::string>{"exactly-30d", "newer-29d", "newer-1h", "now"}));
  EXPECT_EQ(w.prune(), 0u) << "nothing more is old enough";

  // Time passes: the clock, not the wall clock, decides.
  clock_.advance(day + 1s);
  EXPECT_EQ(w.prune(), 2u);
  EXPECT_EQ(ids(), (std::set<std::string>{"newer-1h", "now"}));
  clock_.advance(29 * day);
  EXPECT_EQ(w.prune(), 2u);
  EXPECT_EQ(count(), 0);
}

TEST_F(ErrorLogTest, PruneUsesTheConfiguredRetention) {
  auto o = options();
  o.retention_days = 1;
  ErrorLogWriter w(*db_, clock_, o);
  const auto now = clock_.now();
  insert_at("two-days", now - 48h);
  insert_at("half-day", now - 12h);
  EXPECT_EQ(w.prune(), 1u);
  EXPECT_EQ(ids(), (std::set<std::string>{"half-day"}));
}

TEST_F(ErrorLogTest, StopFlushesWhatIsQueued) {
  ErrorLogWriter w(*db_, clock_, options());
  w.start();
  for (const char* id : {"s1", "s2", "s3", "s4", "s5"}) w.record(entry(id));
  // flush_interval is an hour and the batch (10) is not reached: nothing written yet.
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(count(), 0);
  w.stop();
  EXPECT_EQ(w.written(), 5u);
  EXPECT_EQ(w.queued(), 0u);
  EXPECT_EQ(count(), 5);
  w.stop();  // twice is harmless
  EXPECT_EQ(w.written(), 5u);
}

TEST_F(ErrorLogTest, StopWithoutStartFlushesToo) {
  {
    ErrorLogWriter w(*db_, clock_, options());
    w.record(entry("n1"));
    w.record(entry("n2"));
    w.stop();
    EXPECT_EQ(w.written(), 2u);
    EXPECT_EQ(count(), 2);
  }
  {
    ErrorLogWriter w(*db_, clock_, options());
    w.record(entry("n3"));
  }  // the destructor stops, and so flushes
  EXPECT_EQ(count(), 3);
}

TEST_F(ErrorLogTest, AFullBatchWakesTheWriter) {
  ErrorLogWriter w(*db_, clock_, options(/*capacity=*/100, /*batch=*/3));
  w.start();
  w.record(entry("b1"));
  w.record(entry("b2"));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(w.written(), 0u) << "below the batch size, the writer waits for the interval";
  w.record(entry("b3"));
  EXPECT_TRUE(eventually([&] { return w.written() == 3u; })) << "written " << w.written();
  EXPECT_EQ(count(), 3);
  w.stop();
}

TEST_F(ErrorLogTest, TheWriterFlushesEveryInterval) {
  auto o = options();
  o.flush_interval = 20ms;
  ErrorLogWriter w(*db_, clock_, o);
  w.start();
  w.record(entry("i1"));
  EXPECT_TRUE(eventually([&] { return w.written() == 1u; })) << "written " << w.written();
  w.record(entry("i2"));
  EXPECT_TRUE(eventually([&] { return w.written() == 2u; })) << "written " << w.written();
  EXPECT_EQ(count(), 2);
  w.stop();
}

TEST_F(ErrorLogTest, TheWriterPrunesWhenItStarts) {
  insert_at("ancient", clock_.now() - std::chrono::hours(24) * 45);
  insert_at("recent", clock_.now() - 1h);
  auto o = options();
  o.flush_interval = 20ms;
  ErrorLogWriter w(*db_, clock_, o);
  w.start();
  EXPECT_TRUE(eventually([&] { return count() == 1; })) << "rows " << count();
  w.stop();
  EXPECT_EQ(ids(), (std::set<std::string>{"recent"}));
}

TEST_F(ErrorLogTest, AFailedWriteIsCountedAndTheWriterGoesOn) {
  ErrorLogWriter w(*db_, clock_, options());
  auto st = db_->write([](db::Tx& tx) { return tx.script("DROP TABLE error_log"); });
  ASSERT_TRUE(st) << describe(st);
  w.record(entry("f1"));
  w.record(entry("f2"));
  EXPECT_EQ(w.flush(), 0u);
  EXPECT_EQ(w.failed(), 2u);
  EXPECT_EQ(w.written(), 0u);
  EXPECT_EQ(w.queued(), 0u) << "failed entries are not retried forever";
  EXPECT_EQ(w.prune(), 0u);
}

}  // namespace
}  // namespace evald::monitoring
