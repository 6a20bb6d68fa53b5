#include "db/backup_scheduler.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "db/migrations.hpp"

namespace evald::db {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class BackupSchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("evald-sched-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    DatabaseOptions o;
    o.url = "sqlite://" + (root_ / "db.sqlite").string();
    db_ = open_database(o, clock_);
    ASSERT_TRUE(migrate(*db_).ok());
    ASSERT_TRUE(db_->write([](Tx& tx) -> Status {
                     auto r = tx.exec(
                         "INSERT INTO login_lockouts (login_id, failed_attempts, updated_at) "
                         "VALUES ($1, $2, $3)",
                         {std::string("someone"), std::int64_t{2}, std::string("t")});
                     if (!r) return std::move(r).error();
                     return Ok{};
                   })
                    .ok());
  }
  void TearDown() override { fs::remove_all(root_); }

  std::vector<std::string> files() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(root_ / "backups")) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  ManualClock clock_;
  fs::path root_;
  std::unique_ptr<Database> db_;
};

TEST_F(BackupSchedulerTest, RunsWhenDueThenEveryInterval) {
  BackupScheduler s(*db_, clock_, (root_ / "backups").string(), 24h, 7, "test");
  EXPECT_TRUE(s.tick());  // nothing on disk: due at once
  ASSERT_EQ(files().size(), 1u);
  EXPECT_FALSE(s.tick());
  clock_.advance(23h);
  EXPECT_FALSE(s.tick());
  clock_.advance(1h);
  EXPECT_TRUE(s.tick());
  EXPECT_EQ(files().size(), 2u);
  const auto st = s.stats();
  EXPECT_EQ(st.successes, 2u);
  EXPECT_EQ(st.failures, 0u);
  ASSERT_TRUE(st.last_success.has_value());
}

TEST_F(BackupSchedulerTest, EveryBackupIsVerifiedAndListed) {
  BackupScheduler s(*db_, clock_, (root_ / "backups").string(), 24h, 7, "test");
  auto info = s.run_now();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->rows, 1u);
  auto listed = s.list();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_TRUE(listed[0].verified);
  EXPECT_EQ(listed[0].sha256, info->sha256);

  // A damaged file is listed as not verified, with the reason.
  const auto path = root_ / "backups" / listed[0].name;
  std::string text;
  {
    std::ifstream in(path);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  text[text.find("someone")] = 'S';
  std::ofstream(path, std::ios::trunc) << text;
  listed = s.list();
  EXPECT_FALSE(listed[0].verified);
  EXPECT_NE(listed[0].problem.find("checksum"), std::string::npos);
}

TEST_F(BackupSchedulerTest, KeepsOnlyTheNewest) {
  BackupScheduler s(*db_, clock_, (root_ / "backups").string(), 1h, 2, "test");
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(s.tick());
    clock_.advance(1h);
  }
  auto names = files();
  ASSERT_EQ(names.size(), 2u);
  // The two kept are the two newest by their timestamp names.
  EXPECT_LT(names[0], names[1]);
  EXPECT_EQ(s.stats().successes, 4u);
}

TEST_F(BackupSchedulerTest, FirstBackupIsDueOneIntervalAfterTheNewestOnDisk) {
  {
    BackupScheduler first(*db_, clock_, (root_ / "backups").string(), 24h, 7, "test");
    ASSERT_TRUE(first.tick());
  }
  clock_.advance(2h);
  BackupScheduler again(*db_, clock_, (root_ / "backups").string(), 24h, 7, "test");
  EXPECT_FALSE(again.tick());  // a restart does not take another backup at once
  clock_.advance(22h);
  EXPECT_TRUE(again.tick());
}

TEST_F(BackupSchedulerTest, FailuresAreCountedAndRetriedSooner) {
  BackupScheduler s(*db_, clock_, (root_ / "backups").string(), 24h, 7, "test");
  // The directory disappears and a file takes its name: writing must fail.
  fs::remove_all(root_ / "backups");
  std::ofstream(root_ / "backups") << "not a directory";
  EXPECT_TRUE(s.tick());
  auto st = s.stats();
  EXPECT_EQ(st.failures, 1u);
  EXPECT_EQ(st.successes, 0u);
  EXPECT_FALSE(st.last_error.empty());
  EXPECT_FALSE(s.tick());
  clock_.advance(BackupScheduler::kRetryAfterFailure);
  EXPECT_TRUE(s.tick());
  EXPECT_EQ(s.stats().failures, 2u);
}

}  // namespace
}  // namespace evald::db
