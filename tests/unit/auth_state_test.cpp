// Lockout, sessions and the password policy, on a real SQLite database and a manual clock.

#include <gtest/gtest.h>

#include <filesystem>

#include "auth/lockout.hpp"
#include "auth/password_policy.hpp"
#include "auth/sessions.hpp"
#include "auth/users.hpp"
#include "core/time_format.hpp"
#include "db/migrations.hpp"

namespace evald::auth {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class AuthState : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = fs::temp_directory_path() /
            ("evald-auth-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".db");
    fs::remove(path_);
    db::DatabaseOptions o;
    o.url = "sqlite://" + path_.string();
    db_ = db::open_database(o, clock_);
    ASSERT_TRUE(db::migrate(*db_).ok());
    User u;
    u.id = "u1";
    u.login_id = "alice";
    u.email = "alice@example.org";
    u.user_name = "Alice";
    u.role = "evaluator";
    u.password_hash = "x";
    u.created_at = format_iso8601(clock_.now(), true);
    ASSERT_TRUE(db_->write([&](db::Tx& tx) { return insert_user(tx, u); }).ok());
  }
  void TearDown() override {
    db_.reset();
    for (const char* ext : {"", "-wal", "-shm"}) fs::remove(path_.string() + ext);
  }

  LockoutStatus fail(const Lockout& l, const std::string& id) {
    std::optional<LockoutStatus> out;
    EXPECT_TRUE(db_->write([&](db::Tx& tx) -> Status {
                     auto s = l.record_failure(tx, id);
                     if (!s) return std::move(s).error();
                     out = *s;
                     return Ok{};
                   })
                    .ok());
    return out.value_or(LockoutStatus{});
  }
  LockoutStatus status(const Lockout& l, const std::string& id) {
    std::optional<LockoutStatus> out;
    EXPECT_TRUE(db_->read([&](db::Tx& tx) -> Status {
                     auto s = l.status(tx, id);
                     if (!s) return std::move(s).error();
                     out = *s;
                     return Ok{};
                   })
                    .ok());
    return out.value_or(LockoutStatus{});
  }

  ManualClock clock_;
  fs::path path_;
  std::unique_ptr<db::Database> db_;
};

TEST_F(AuthState, LocksAtTheLimitAndUnlocksAfterTheDuration) {
  Lockout l(clock_, 3, 30min);
  EXPECT_EQ(fail(l, "alice").remaining_attempts, 2u);
  EXPECT_EQ(fail(l, "alice").remaining_attempts, 1u);
  auto third = fail(l, "alice");
  EXPECT_TRUE(third.is_locked);
  ASSERT_TRUE(third.lockout_until.has_value());
  EXPECT_EQ(*third.lockout_until, format_iso8601(clock_.now() + 30min, true));
  clock_.advance(29min);
  EXPECT_TRUE(status(l, "alice").is_locked);
  clock_.advance(1min + 1ms);
  auto after = status(l, "alice");
  EXPECT_FALSE(after.is_locked);
  EXPECT_EQ(after.remaining_attempts, 3u);
  // A failure after the lock ended starts a new count.
  EXPECT_EQ(fail(l, "alice").failed_attempts, 1u);
}

TEST_F(AuthState, FailuresOutsideTheWindowDoNotAddUp) {
  Lockout l(clock_, 3, 10min);
  fail(l, "alice");
  fail(l, "alice");
  clock_.advance(11min);
  auto s = fail(l, "alice");
  EXPECT_FALSE(s.is_locked);
  EXPECT_EQ(s.failed_attempts, 1u);
}

TEST_F(AuthState, UnknownIdsLockLikeKnownOnes) {
  Lockout l(clock_, 2, 5min);
  fail(l, "nobody-has-this-id");
  EXPECT_TRUE(fail(l, "nobody-has-this-id").is_locked);
  EXPECT_FALSE(status(l, "alice").is_locked);  // per login id
}

TEST_F(AuthState, ResetClearsTheCount) {
  Lockout l(clock_, 3, 5min);
  fail(l, "alice");
  fail(l, "alice");
  ASSERT_TRUE(db_->write([&](db::Tx& tx) { return l.reset(tx, "alice"); }).ok());
  EXPECT_EQ(status(l, "alice").remaining_attempts, 3u);
  EXPECT_FALSE(fail(l, "alice").is_locked);
}

TEST_F(AuthState, SessionsAreStoredHashedAndExpireWhenIdle) {
  SessionManager s(clock_, 24h, 1000ms);
  std::string raw;
  ASSERT_TRUE(db_->write([&](db::Tx& tx) -> Status {
                   auto r = s.create(tx, "u1", "127.0.0.1", "test-agent");
                   if (!r) return std::move(r).error();
                   raw = *r;
                   return Ok{};
                 })
                  .ok());
  EXPECT_EQ(raw.size(), 32u);  // 128 bits
  const auto id = SessionManager::public_id(raw);
  auto stored = db_->query("SELECT id_hash FROM sessions");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->text(0, "id_hash"), id);
  EXPECT_NE(stored->text(0, "id_hash"), raw);

  EXPECT_FALSE(s.cached(id, "u1").has_value());
  auto v = s.validate(*db_, id, "u1");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(*v);
  EXPECT_EQ(s.cached(id, "u1"), std::optional<bool>(true));
  EXPECT_EQ(s.cached(id, "u2"), std::optional<bool>(false));  // not this user's session
  clock_.advance(1001ms);
  EXPECT_FALSE(s.cached(id, "u1").has_value());  // the verdict is at most a second old

  // Sliding: activity keeps it alive past the first 24 hours; idleness ends it.
  clock_.advance(23h);
  ASSERT_TRUE(*s.validate(*db_, id, "u1"));
  clock_.advance(23h);
  EXPECT_TRUE(*s.validate(*db_, id, "u1"));
  clock_.advance(24h + 1s);
  EXPECT_FALSE(*s.validate(*db_, id, "u1"));
}

TEST_F(AuthState, RevocationIsSeenByOtherInstancesWithinTheCacheTtl) {
  SessionManager here(clock_, 24h, 1000ms);
  SessionManager there(clock_, 24h, 1000ms);  // another instance, same database
  std::string raw;
  ASSERT_TRUE(db_->write([&](db::Tx& tx) -> Status {
                   auto r = here.create(tx, "u1", "", "");
                   if (!r) return std::move(r).error();
                   raw = *r;
                   return Ok{};
                 })
                  .ok());
  const auto id = SessionManager::public_id(raw);
  ASSERT_TRUE(*there.validate(*db_, id, "u1"));
  ASSERT_TRUE(db_->write([&](db::Tx& tx) -> Status {
                   auto r = here.revoke(tx, id);
                   if (!r) return std::move(r).error();
                   EXPECT_TRUE(*r);
                   return Ok{};
                 })
                  .ok());
  here.forget(id);
  EXPECT_FALSE(here.cached(id, "u1").has_value());
  EXPECT_FALSE(*here.validate(*db_, id, "u1"));                  // at once here
  EXPECT_EQ(there.cached(id, "u1"), std::optional<bool>(true));  // still cached there...
  clock_.advance(1000ms);
  EXPECT_FALSE(there.cached(id, "u1").has_value());  // ...for at most a second
  EXPECT_FALSE(*there.validate(*db_, id, "u1"));
}

TEST(PasswordPolicy, NamesEveryRuleThatFails) {
  auto codes = [](const std::vector<FieldError>& errors) {
    std::vector<std::string> c;
    for (const auto& e : errors) c.push_back(e.code);
    return c;
  };
  EXPECT_TRUE(check_password_policy("Evald-Test-Pass-2026!", "alice", "a@b.c").empty());
  EXPECT_EQ(codes(check_password_policy("Zq3!xv", "alice", "a@b.c")),
            std::vector<std::string>{"password.too_short"});
  EXPECT_EQ(codes(check_password_policy(std::string(129, 'x'), "alice", "a@b.c")),
            std::vector<std::string>{"password.too_long"});
  EXPECT_EQ(codes(check_password_policy("AliceInWonderland", "aliceinwonderland", "a@b.c")),
            std::vector<std::string>{"password.equals_login_id"});
  EXPECT_EQ(codes(check_password_policy("alice@example.org", "alice", "Alice@Example.org")),
            std::vector<std::string>{"password.equals_email"});
  EXPECT_EQ(codes(check_password_policy("Password123", "alice", "a@b.c")),
            std::vector<std::string>{"password.too_common"});
  // Length counts characters, not bytes: eight Korean syllables are eight characters.
  EXPECT_TRUE(check_password_policy("평가시스템비밀번", "alice", "a@b.c").empty());
  for (const auto& e : check_password_policy("short", "alice", "a@b.c")) {
    EXPECT_FALSE(e.value.has_value());  // the password is never echoed
  }
}

TEST(PasswordPolicy, ShipsAtLeastTenThousandCommonPasswords) {
  EXPECT_GE(common_password_count(), 10'000u);
  for (const char* p : {"123456", "password", "qwerty123", "iloveyou", "baseball"}) {
    EXPECT_TRUE(is_common_password(p)) << p;
  }
  EXPECT_FALSE(is_common_password("Evald-Test-Pass-2026!"));
}

}  // namespace
}  // namespace evald::auth

#include "auth/password.hpp"
#include "auth/service.hpp"

namespace evald::auth {
namespace {

TEST_F(AuthState, LoginUpgradesAHashWithOlderParameters) {
  AuthSettings settings;
  settings.jwt_secret = std::string(40, 'k');
  AuthService auth(*db_, clock_, settings, 1);
  const std::string password = "Evald-Upgrade-Pass-2026!";
  const std::string weak = hash_password(password, HashParams{1, 8 * 1024});
  ASSERT_TRUE(needs_rehash(weak));
  ASSERT_TRUE(db_->write([&](db::Tx& tx) {
                   return set_password_hash(tx, "u1", weak, format_iso8601(clock_.now(), true));
                 })
                  .ok());
  auto r = auth.login("alice", password, "", ClientInfo{"127.0.0.1", "test", "req-1"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto stored = db_->query("SELECT password_hash FROM users WHERE id = 'u1'");
  ASSERT_TRUE(stored.ok());
  const std::string upgraded = stored->text(0, "password_hash");
  EXPECT_NE(upgraded, weak);
  EXPECT_FALSE(needs_rehash(upgraded));
  EXPECT_NE(upgraded.find("m=19456,t=2,p=1"), std::string::npos);
  EXPECT_TRUE(verify_password(password, upgraded));
  // The token it issued carries the user, role and a session that validates.
  auto claims = auth.verify_token(r->access_token);
  ASSERT_TRUE(claims.ok());
  EXPECT_EQ(claims->user_id, "u1");
  EXPECT_EQ(claims->role, "evaluator");
  EXPECT_TRUE(*auth.sessions().validate(*db_, SessionManager::public_id(claims->session_id), "u1"));
}

}  // namespace
}  // namespace evald::auth
