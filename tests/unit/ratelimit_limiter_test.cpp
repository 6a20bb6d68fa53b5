#include "ratelimit/limiter.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <memory>

namespace evald::ratelimit {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr std::int64_t kStartWallMs = 1'700'000'000'000;  // ManualClock's default start

Rule rule(std::string name, Scope scope, double limit, std::chrono::seconds window) {
  Rule r;
  r.name = std::move(name);
  r.scope = scope;
  r.limit = limit;
  r.burst = limit;
  r.window = window;
  r.penalty_window = window;
  return r;
}

Rule with_penalty(Rule r, std::chrono::seconds penalty, unsigned threshold) {
  r.penalty = penalty;
  r.penalty_threshold = threshold;
  return r;
}

// RequestInfo holds views: the arguments must outlive it (literals, or a temporary used in the
// same expression).
RequestInfo anonymous(std::string_view ip, std::string_view category,
                      std::string_view route = "/r") {
  return {.client_ip = ip, .user_id = "", .role = "", .category = category, .route = route};
}

RequestInfo user(std::string_view ip, std::string_view id, std::string_view role,
                 std::string_view category, std::string_view route = "/r") {
  return {.client_ip = ip, .user_id = id, .role = role, .category = category, .route = route};
}

std::vector<std::string> keys(const Checks& checks) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < checks.size(); ++i) out.emplace_back(checks.key(i));
  return out;
}

std::optional<std::size_t> clear(Limiter& limiter, std::string scope, std::string id) {
  asio::io_context ioc;
  auto done = asio::co_spawn(ioc, limiter.clear(std::move(scope), std::move(id)), asio::use_future);
  ioc.run();
  return done.get();
}

// The outcome of the rule with this name.
const RuleOutcome& outcome(const Decision& d, const std::string& name) {
  for (const auto& o : d.outcomes) {
    if (o.rule->name == name) return o;
  }
  ADD_FAILURE() << "no outcome for " << name;
  static const RuleOutcome kNone;
  return kNone;
}

TEST(Limiter, ChecksForPicksPerIpPerUserPerEndpointAndGlobal) {
  const auto rules = default_rules();
  const std::string ip = "203.0.113.9";

  auto c = checks_for(rules, anonymous(ip, "login", "/auth/login"));
  EXPECT_EQ(keys(c), (std::vector<std::string>{"per_ip:login|" + ip, "global"}));
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c.rule(0), rules.per_ip("login"));
  EXPECT_EQ(c.rule(1), rules.global());

  // No per-IP rule of its own: per_ip:api. An anonymous bulk request is keyed on the IP.
  EXPECT_EQ(keys(checks_for(rules, anonymous(ip, "bulk", "/evaluations/bulk"))),
            (std::vector<std::string>{"per_ip:api|" + ip,
                                      "per_endpoint:bulk|" + ip + "|/evaluations/bulk", "global"}));
  EXPECT_EQ(keys(checks_for(rules, anonymous(ip, "no-such-category"))),
            (std::vector<std::string>{"per_ip:api|" + ip, "global"}));

  // A user: per role, and per endpoint keyed on the user rather than the IP.
  EXPECT_EQ(keys(checks_for(rules, user(ip, "u1", "evaluator", "export", "/exports/{id}"))),
            (std::vector<std::string>{"per_ip:api|" + ip, "per_user:evaluator|u1",
                                      "per_endpoint:export|u1|/exports/{id}", "global"}));
  // A role without a rule of its own: per_user:default. api has no endpoint rule.
  c = checks_for(rules, user(ip, "u2", "secretary", "api"));
  EXPECT_EQ(keys(c),
            (std::vector<std::string>{"per_ip:api|" + ip, "per_user:default|u2", "global"}));
  EXPECT_EQ(c.rule(1), rules.per_user("default"));
  // A role but no user id: no per-user bucket.
  EXPECT_EQ(keys(checks_for(rules, user(ip, "", "admin", "admin"))),
            (std::vector<std::string>{"per_ip:admin|" + ip, "global"}));

  // Without fallbacks and without a global rule, nothing applies.
  const RuleSet sparse({rule("per_user:admin", Scope::kPerUser, 10, 60s)});
  EXPECT_TRUE(checks_for(sparse, user(ip, "u1", "evaluator", "upload")).empty());
  EXPECT_EQ(keys(checks_for(sparse, user(ip, "u1", "admin", "upload"))),
            (std::vector<std::string>{"per_user:admin|u1"}));
}

TEST(Limiter, RefusalByOneRuleConsumesNothingFromTheOthers) {
  ManualClock clock;
  Limiter limiter(RuleSet({rule("per_ip:login", Scope::kPerIp, 2, 300s),
                           rule("per_user:default", Scope::kPerUser, 10, 3600s),
                           rule("global", Scope::kGlobal, 100, 60s)}),
                  clock);
  EXPECT_EQ(limiter.mode(), StoreMode::kLocal);
  const auto from_a = user("10.0.0.1", "u1", "", "login");
  ASSERT_TRUE(limiter.check_local(from_a).allowed);
  ASSERT_TRUE(limiter.check_local(from_a).allowed);

  const auto refused = limiter.check_local(from_a);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.store, StoreMode::kLocal);
  ASSERT_EQ(refused.violated, 0);
  EXPECT_EQ(refused.outcomes[0].rule->name, "per_ip:login");
  EXPECT_DOUBLE_EQ(outcome(refused, "per_user:default").verdict.remaining, 8);
  EXPECT_DOUBLE_EQ(outcome(refused, "global").verdict.remaining, 98);

  // The same user from another IP: the user and global buckets lost only the allowed requests.
  const auto from_b = limiter.check_local(user("10.0.0.2", "u1", "", "login"));
  ASSERT_TRUE(from_b.allowed);
  EXPECT_DOUBLE_EQ(outcome(from_b, "per_user:default").verdict.remaining, 7);
  EXPECT_DOUBLE_EQ(outcome(from_b, "global").verdict.remaining, 97);
  EXPECT_DOUBLE_EQ(outcome(from_b, "per_ip:login").verdict.remaining, 1);
}

TEST(Limiter, StatsCountPerRuleAndKeepTheRecentRefusals) {
  ManualClock clock;
  Limiter limiter(RuleSet({rule("per_ip:login", Scope::kPerIp, 1, 300s),
                           rule("global", Scope::kGlobal, 1000, 60s)}),
                  clock);
  const auto a = anonymous("10.0.0.1", "login", "/auth/login");
  const auto b = anonymous("10.0.0.2", "login", "/auth/login");
  EXPECT_TRUE(limiter.check_local(a).allowed);
  EXPECT_FALSE(limiter.check_local(a).allowed);
  EXPECT_TRUE(limiter.check_local(b).allowed);
  clock.advance(1s);
  EXPECT_FALSE(limiter.check_local(b).allowed);
  limiter.count_bypass();

  const auto s = limiter.stats();
  EXPECT_EQ(s.total, 4u);
  EXPECT_EQ(s.allowed, 2u);
  EXPECT_EQ(s.refused, 2u);
  EXPECT_EQ(s.bypassed, 1u);
  EXPECT_EQ(s.local_decisions, 4u);
  EXPECT_EQ(s.redis_decisions, 0u);
  EXPECT_EQ(s.mode, StoreMode::kLocal);
  EXPECT_FALSE(s.redis.has_value());
  EXPECT_EQ(s.local_keys, 3u);  // two IPs and the global bucket
  ASSERT_TRUE(s.rules.contains("per_ip:login"));
  EXPECT_EQ(s.rules.at("per_ip:login").allowed, 2u);
  EXPECT_EQ(s.rules.at("per_ip:login").refused, 2u);
  ASSERT_TRUE(s.rules.contains("global"));
  EXPECT_EQ(s.rules.at("global").allowed, 2u);
  EXPECT_EQ(s.rules.at("global").refused, 0u);

  ASSERT_EQ(s.recent.size(), 2u);
  EXPECT_EQ(s.recent[0].client_ip, "10.0.0.2");  // newest first
  EXPECT_EQ(s.recent[0].route, "/auth/login");
  EXPECT_EQ(s.recent[0].key, "per_ip:login|10.0.0.2");
  EXPECT_EQ(s.recent[0].rule, "per_ip:login");
  EXPECT_EQ(s.recent[0].at_ms, kStartWallMs + 1000);
  EXPECT_FALSE(s.recent[0].penalty);
  EXPECT_EQ(s.recent[1].client_ip, "10.0.0.1");
  EXPECT_EQ(s.recent[1].at_ms, kStartWallMs);
}

TEST(Limiter, RecentRefusalsAreCappedAtFiftyNewestFirst) {
  ManualClock clock;
  Limiter limiter(RuleSet({rule("per_ip:api", Scope::kPerIp, 1, 3600s)}), clock);
  ASSERT_TRUE(limiter.check_local(anonymous("10.0.0.1", "api")).allowed);
  for (int i = 0; i < 60; ++i) {
    ASSERT_FALSE(
        limiter.check_local(anonymous("10.0.0.1", "api", "/r/" + std::to_string(i))).allowed);
  }
  const auto s = limiter.stats();
  EXPECT_EQ(s.refused, 60u);
  ASSERT_EQ(s.recent.size(), Limiter::kRecentRefusals);
  ASSERT_EQ(s.recent.size(), 50u);
  EXPECT_EQ(s.recent.front().route, "/r/59");
  EXPECT_EQ(s.recent.back().route, "/r/10");
}

TEST(Limiter, PenaltyBoxAfterThresholdDoublingOnTheSecondOffence) {
  ManualClock clock;
  Limiter limiter(RuleSet({with_penalty(rule("per_ip:login", Scope::kPerIp, 1, 300s), 900s, 2),
                           rule("global", Scope::kGlobal, 1000, 60s)}),
                  clock);
  const auto a = anonymous("10.0.0.1", "login");
  ASSERT_TRUE(limiter.check_local(a).allowed);

  auto d = limiter.check_local(a);  // first refusal: below the threshold
  ASSERT_FALSE(d.allowed);
  EXPECT_FALSE(d.outcomes[0].blocked);
  EXPECT_EQ(d.outcomes[0].verdict.retry_ms, 300'000);  // one token back
  EXPECT_EQ(limiter.stats().rules.at("per_ip:login").penalties, 0u);

  d = limiter.check_local(a);  // second refusal: into the box
  ASSERT_FALSE(d.allowed);
  ASSERT_EQ(d.violated, 0);
  EXPECT_TRUE(d.outcomes[0].penalized);
  EXPECT_TRUE(d.outcomes[0].blocked);
  EXPECT_EQ(d.outcomes[0].blocked_ms, 900'000);
  EXPECT_EQ(d.outcomes[0].verdict.retry_ms, 900'000);  // Retry-After covers the box
  auto s = limiter.stats();
  EXPECT_EQ(s.rules.at("per_ip:login").penalties, 1u);
  EXPECT_EQ(s.penalties_active, 1u);
  ASSERT_FALSE(s.recent.empty());
  EXPECT_TRUE(s.recent[0].penalty);

  // The bucket refilled long ago, the box still holds; no new offence while boxed.
  clock.advance(600s);
  d = limiter.check_local(a);
  ASSERT_FALSE(d.allowed);
  EXPECT_TRUE(d.outcomes[0].blocked);
  EXPECT_FALSE(d.outcomes[0].penalized);
  EXPECT_EQ(d.outcomes[0].verdict.retry_ms, 300'000);
  EXPECT_EQ(limiter.stats().rules.at("per_ip:login").penalties, 1u);
  EXPECT_TRUE(limiter.check_local(anonymous("10.0.0.2", "login")).allowed);  // others unaffected

  clock.advance(300s);  // the box ends
  EXPECT_TRUE(limiter.check_local(a).allowed);
  EXPECT_EQ(limiter.stats().penalties_active, 0u);

  // Second offence: twice as long.
  ASSERT_FALSE(limiter.check_local(a).allowed);
  d = limiter.check_local(a);
  ASSERT_FALSE(d.allowed);
  EXPECT_TRUE(d.outcomes[0].penalized);
  EXPECT_EQ(d.outcomes[0].blocked_ms, 1'800'000);
  EXPECT_EQ(d.outcomes[0].verdict.retry_ms, 1'800'000);
  s = limiter.stats();
  EXPECT_EQ(s.rules.at("per_ip:login").penalties, 2u);
  EXPECT_EQ(s.penalties_active, 1u);

  clock.advance(1'799'999ms);
  d = limiter.check_local(a);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.outcomes[0].verdict.retry_ms, 1);
  clock.advance(1ms);
  EXPECT_TRUE(limiter.check_local(a).allowed);
  EXPECT_EQ(limiter.stats().penalties_active, 0u);
}

// BUG (limiter.cpp, Limiter::record): when two rules refuse one request and both open their
// penalty box, only the first ("violated") is counted; the second key is boxed in the store but
// missing from its rule's `penalties` and from `penalties_active`.
TEST(Limiter, EveryBoxOpenedByOneRequestIsCounted) {
  ManualClock clock;
  Limiter limiter(
      RuleSet({with_penalty(rule("per_ip:login", Scope::kPerIp, 1, 300s), 900s, 1),
               with_penalty(rule("per_user:default", Scope::kPerUser, 1, 300s), 900s, 1)}),
      clock);
  const auto req = user("10.0.0.1", "u1", "", "login");
  ASSERT_TRUE(limiter.check_local(req).allowed);
  const auto d = limiter.check_local(req);
  ASSERT_FALSE(d.allowed);
  ASSERT_TRUE(outcome(d, "per_ip:login").penalized);
  ASSERT_TRUE(outcome(d, "per_user:default").penalized);  // the store boxed both keys
  // The user is boxed: from another IP too.
  ASSERT_FALSE(limiter.check_local(user("10.0.0.2", "u1", "", "login")).allowed);

  const auto s = limiter.stats();
  EXPECT_EQ(s.rules.at("per_ip:login").penalties, 1u);
  EXPECT_EQ(s.rules.at("per_user:default").penalties, 1u);
  EXPECT_EQ(s.penalties_active, 2u);
}

TEST(Limiter, ShouldReportOncePerKeyPerInterval) {
  ManualClock clock;
  LimiterOptions options;
  options.event_interval = 60s;
  Limiter limiter(default_rules(), clock, options);
  EXPECT_TRUE(limiter.should_report("per_ip:login|10.0.0.1"));
  EXPECT_FALSE(limiter.should_report("per_ip:login|10.0.0.1"));
  clock.advance(59'999ms);
  EXPECT_FALSE(limiter.should_report("per_ip:login|10.0.0.1"));
  EXPECT_TRUE(limiter.should_report("per_ip:login|10.0.0.2"));  // keys are independent
  clock.advance(1ms);
  EXPECT_TRUE(limiter.should_report("per_ip:login|10.0.0.1"));
  EXPECT_FALSE(limiter.should_report("per_ip:login|10.0.0.1"));
}

TEST(Limiter, ShouldReportCapsTheOverallRate) {
  ManualClock clock;
  Limiter limiter(default_rules(), clock);
  int reported = 0;
  for (int i = 0; i < 60; ++i) reported += limiter.should_report("k" + std::to_string(i)) ? 1 : 0;
  EXPECT_EQ(reported, 50);  // a burst of fifty, then nothing in the same instant
  EXPECT_FALSE(limiter.should_report("one-more"));
  // Ten a second: after 100 ms, one more. A key dropped by the cap was not remembered.
  clock.advance(100ms);
  EXPECT_TRUE(limiter.should_report("k59"));
  EXPECT_FALSE(limiter.should_report("k58"));
  // Keys reported before still wait for their interval.
  clock.advance(10s);
  EXPECT_FALSE(limiter.should_report("k0"));
  EXPECT_TRUE(limiter.should_report("k58"));
}

TEST(Limiter, ClearPerIpResetsThatIpOnly) {
  ManualClock clock;
  Limiter limiter(RuleSet({rule("per_ip:login", Scope::kPerIp, 3, 300s),
                           rule("per_ip:api", Scope::kPerIp, 60, 60s),
                           rule("global", Scope::kGlobal, 1000, 60s)}),
                  clock);
  const auto a = anonymous("10.0.0.1", "login");
  const auto b = anonymous("10.0.0.2", "login");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(limiter.check_local(a).allowed);
  ASSERT_FALSE(limiter.check_local(a).allowed);
  ASSERT_TRUE(limiter.check_local(anonymous("10.0.0.1", "api")).allowed);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(limiter.check_local(b).allowed);
  ASSERT_FALSE(limiter.check_local(b).allowed);

  EXPECT_EQ(clear(limiter, "per_ip", "10.0.0.1"), std::optional<std::size_t>(2));  // login, api

  const auto d = limiter.check_local(a);
  ASSERT_TRUE(d.allowed);
  EXPECT_DOUBLE_EQ(outcome(d, "per_ip:login").verdict.remaining, 2);   // burst - 1
  EXPECT_DOUBLE_EQ(outcome(d, "global").verdict.remaining, 1000 - 8);  // not cleared
  EXPECT_FALSE(limiter.check_local(b).allowed);
  EXPECT_EQ(clear(limiter, "per_ip", "10.0.0.99"), std::optional<std::size_t>(0));
}

TEST(Limiter, ClearLiftsThePenaltyBox) {
  ManualClock clock;
  Limiter limiter(RuleSet({with_penalty(rule("per_ip:login", Scope::kPerIp, 1, 300s), 900s, 1)}),
                  clock);
  const auto a = anonymous("10.0.0.1", "login");
  ASSERT_TRUE(limiter.check_local(a).allowed);
  ASSERT_TRUE(limiter.check_local(a).outcomes[0].penalized);
  ASSERT_EQ(limiter.stats().penalties_active, 1u);
  EXPECT_EQ(clear(limiter, "per_ip", "10.0.0.1"), std::optional<std::size_t>(1));
  EXPECT_EQ(limiter.stats().penalties_active, 0u);
  EXPECT_TRUE(limiter.check_local(a).allowed);
}

TEST(Limiter, ClearPerEndpointClearsEveryEndpointOfTheUser) {
  ManualClock clock;
  Limiter limiter(RuleSet({rule("per_endpoint:bulk", Scope::kPerEndpoint, 1, 300s),
                           rule("per_endpoint:export", Scope::kPerEndpoint, 1, 600s)}),
                  clock);
  const std::vector<RequestInfo> u1{user("10.0.0.1", "u1", "", "bulk", "/a"),
                                    user("10.0.0.1", "u1", "", "bulk", "/b"),
                                    user("10.0.0.1", "u1", "", "export", "/c")};
  // "u10" begins with "u1": its buckets must survive a clear of u1.
  const auto u10 = user("10.0.0.1", "u10", "", "bulk", "/a");
  for (const auto& r : u1) ASSERT_TRUE(limiter.check_local(r).allowed) << r.route;
  for (const auto& r : u1) ASSERT_FALSE(limiter.check_local(r).allowed) << r.route;
  ASSERT_TRUE(limiter.check_local(u10).allowed);
  ASSERT_FALSE(limiter.check_local(u10).allowed);

  EXPECT_EQ(clear(limiter, "per_endpoint", "u1"), std::optional<std::size_t>(3));
  for (const auto& r : u1) EXPECT_TRUE(limiter.check_local(r).allowed) << r.route;
  EXPECT_FALSE(limiter.check_local(u10).allowed);
}

TEST(Limiter, ClearPerUserAndGlobal) {
  ManualClock clock;
  Limiter limiter(RuleSet({rule("per_user:default", Scope::kPerUser, 1, 3600s),
                           rule("per_user:admin", Scope::kPerUser, 1, 3600s),
                           rule("global", Scope::kGlobal, 5, 60s)}),
                  clock);
  ASSERT_TRUE(limiter.check_local(user("10.0.0.1", "u1", "", "api")).allowed);
  ASSERT_TRUE(limiter.check_local(user("10.0.0.1", "u1", "admin", "api")).allowed);
  ASSERT_TRUE(limiter.check_local(user("10.0.0.2", "u2", "", "api")).allowed);
  ASSERT_FALSE(limiter.check_local(user("10.0.0.1", "u1", "admin", "api")).allowed);
  ASSERT_FALSE(limiter.check_local(user("10.0.0.2", "u2", "", "api")).allowed);

  EXPECT_EQ(clear(limiter, "per_user", "u1"), std::optional<std::size_t>(2));
  EXPECT_TRUE(limiter.check_local(user("10.0.0.1", "u1", "admin", "api")).allowed);
  EXPECT_FALSE(limiter.check_local(user("10.0.0.2", "u2", "", "api")).allowed);

  // Four of the global five are taken: one more request, then a refusal.
  ASSERT_TRUE(limiter.check_local(anonymous("10.0.0.3", "api")).allowed);
  ASSERT_FALSE(limiter.check_local(anonymous("10.0.0.4", "api")).allowed);
  EXPECT_EQ(clear(limiter, "per_planet", "all"), std::optional<std::size_t>(0));
  ASSERT_FALSE(limiter.check_local(anonymous("10.0.0.4", "api")).allowed);
  EXPECT_EQ(clear(limiter, "global", "all"), std::optional<std::size_t>(1));
  const auto d = limiter.check_local(anonymous("10.0.0.4", "api"));
  ASSERT_TRUE(d.allowed);
  EXPECT_DOUBLE_EQ(outcome(d, "global").verdict.remaining, 4);
}

TEST(Limiter, ReloadAppliesToTheNextCheckWhileOldDecisionsStayValid) {
  ManualClock clock;
  Limiter limiter(RuleSet({rule("per_ip:api", Scope::kPerIp, 1, 60s),
                           rule("global", Scope::kGlobal, 100, 60s)}),
                  clock);
  const auto api = anonymous("10.0.0.1", "api");
  const auto login = anonymous("10.0.0.1", "login");
  const auto upload = anonymous("10.0.0.1", "upload");
  const Decision before = limiter.check_local(api);
  ASSERT_TRUE(before.allowed);
  ASSERT_FALSE(limiter.check_local(api).allowed);
  EXPECT_EQ(limiter.check_local(login).outcomes.at(0).rule->name, "per_ip:api");  // fallback
  const auto* old_rules = limiter.rules().get();

  auto shadow_upload = rule("per_ip:upload", Scope::kPerIp, 1, 60s);
  shadow_upload.shadow = true;
  limiter.reload(RuleSet({rule("per_ip:api", Scope::kPerIp, 3, 60s),
                          rule("per_ip:login", Scope::kPerIp, 5, 300s), shadow_upload,
                          rule("global", Scope::kGlobal, 100, 60s)}));
  EXPECT_NE(limiter.rules().get(), old_rules);

  // The next checks see the new rules: a larger burst frees the client at once, login has a
  // bucket of its own, and a shadow rule only watches.
  auto d = limiter.check_local(api);
  ASSERT_TRUE(d.allowed);
  EXPECT_EQ(d.outcomes.at(0).rule->limit, 3);
  EXPECT_DOUBLE_EQ(d.outcomes.at(0).verdict.remaining, 1);  // 3 - the one used before - this
  d = limiter.check_local(login);
  ASSERT_TRUE(d.allowed);
  EXPECT_EQ(d.outcomes.at(0).rule->name, "per_ip:login");
  EXPECT_DOUBLE_EQ(d.outcomes.at(0).verdict.remaining, 4);
  ASSERT_TRUE(limiter.check_local(upload).allowed);
  d = limiter.check_local(upload);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(std::vector<int>(d.shadow_refusals.begin(), d.shadow_refusals.end()),
            std::vector<int>{0});

  // Counts of a rule that survives the reload run on.
  const auto s = limiter.stats();
  EXPECT_EQ(s.rules.at("per_ip:api").allowed, 2u);
  EXPECT_EQ(s.rules.at("per_ip:api").refused, 2u);
  EXPECT_EQ(s.rules.at("per_ip:login").allowed, 1u);
  EXPECT_EQ(s.rules.at("per_ip:upload").shadow_refused, 1u);
  EXPECT_EQ(s.rules.at("global").allowed, 5u);

  // Another reload, so that nothing but the decision's own reference (or the limiter's
  // history of sets) can keep the first set alive.
  limiter.reload(RuleSet({rule("global", Scope::kGlobal, 7, 60s)}));
  EXPECT_EQ(limiter.check_local(api).outcomes.at(0).rule->limit, 7);

  // The decision taken before still points into the old rules, and they are still alive.
  // (std::to_address: Decision::rules is a shared_ptr or a plain pointer, depending on who
  // keeps the sets alive.)
  const RuleSet* before_rules = std::to_address(before.rules);
  ASSERT_EQ(before_rules, old_rules);
  ASSERT_EQ(before.outcomes.size(), 2u);
  const auto& old = before_rules->rules();
  ASSERT_EQ(old.size(), 2u);
  for (std::size_t i = 0; i < before.outcomes.size(); ++i) {
    const Rule* r = before.outcomes[i].rule;
    EXPECT_TRUE(r >= old.data() && r < old.data() + old.size()) << before.key(i);
  }
  EXPECT_EQ(before.outcomes[0].rule->name, "per_ip:api");
  EXPECT_EQ(before.outcomes[0].rule->limit, 1);
  EXPECT_EQ(before.outcomes[1].rule->name, "global");
}

TEST(Limiter, AwaitedCheckUsesTheLocalStoreWithoutRedis) {
  ManualClock clock;
  Limiter limiter(RuleSet({rule("per_ip:api", Scope::kPerIp, 1, 60s)}), clock);
  limiter.start();  // nothing to connect to
  EXPECT_FALSE(limiter.redis_active());
  EXPECT_EQ(limiter.mode(), StoreMode::kLocal);
  const auto req = anonymous("10.0.0.1", "api");
  auto run = [&] {
    asio::io_context ioc;
    auto done = asio::co_spawn(ioc, limiter.check(req), asio::use_future);
    ioc.run();
    return done.get();
  };
  const auto first = run();
  EXPECT_TRUE(first.allowed);
  EXPECT_EQ(first.store, StoreMode::kLocal);
  EXPECT_FALSE(run().allowed);  // the same buckets as check_local
  EXPECT_FALSE(limiter.check_local(req).allowed);
  EXPECT_EQ(limiter.stats().local_decisions, 3u);
  limiter.stop();
}

}  // namespace
}  // namespace evald::ratelimit
