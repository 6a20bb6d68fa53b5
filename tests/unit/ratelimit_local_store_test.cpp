#include "ratelimit/local_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace evald::ratelimit {
namespace {

using namespace std::chrono_literals;

Rule rule(std::string name, double limit, std::chrono::milliseconds window, double burst) {
  Rule r;
  r.name = std::move(name);
  r.limit = limit;
  r.window = window;
  r.burst = burst;
  return r;
}

// Checks keyed "<rule name>|<id>".
Checks checks(std::initializer_list<std::pair<const Rule*, std::string_view>> items) {
  Checks c;
  for (const auto& [r, id] : items) c.add(r, {id});
  return c;
}

TEST(LocalStore, PassesOnlyWhenEveryRuleAllowsAndARefusalConsumesNothing) {
  const auto ip = rule("per_ip:api", 60, 60s, 60);
  const auto login = rule("per_ip:login", 5, 300s, 2);
  LocalStore store;
  const Checks both = checks({{&ip, "ip|1"}, {&login, "login|1"}});
  EXPECT_TRUE(store.decide(both, 0).allowed);
  EXPECT_TRUE(store.decide(both, 0).allowed);
  auto refused = store.decide(both, 0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.violated, 1);
  EXPECT_EQ(refused.outcomes[1].rule->name, "per_ip:login");
  // The api bucket lost only the two allowed requests, not the refused one.
  EXPECT_DOUBLE_EQ(refused.outcomes[0].verdict.remaining, 58.0);
  const Checks api_only = checks({{&ip, "ip|1"}});
  EXPECT_DOUBLE_EQ(store.decide(api_only, 0).outcomes[0].verdict.remaining, 57.0);
}

TEST(LocalStore, KeysAreIndependent) {
  const auto r = rule("per_user:default", 1000, 3600s, 1);
  LocalStore store;
  EXPECT_TRUE(store.decide(checks({{&r, "u|alice"}}), 0).allowed);
  EXPECT_FALSE(store.decide(checks({{&r, "u|alice"}}), 0).allowed);
  EXPECT_TRUE(store.decide(checks({{&r, "u|bob"}}), 0).allowed);
}

TEST(LocalStore, TightestRuleIsTheOneClosestToItsLimit) {
  const auto wide = rule("global", 10000, 60s, 10000);
  const auto narrow = rule("per_ip:login", 5, 300s, 5);
  LocalStore store;
  auto d = store.decide(checks({{&wide, "g"}, {&narrow, "l|1"}}), 0);
  ASSERT_TRUE(d.allowed);
  EXPECT_EQ(d.tightest, 1);
}

TEST(LocalStore, PenaltyBoxBlocksEvenAfterRefill) {
  auto r = rule("per_ip:login", 5, 300s, 1);
  r.penalty = 900s;
  r.penalty_threshold = 2;
  LocalStore store;
  const Checks c = checks({{&r, "l|x"}});
  ASSERT_TRUE(store.decide(c, 0).allowed);
  EXPECT_FALSE(store.decide(c, 1).allowed);
  auto boxed = store.decide(c, 2);
  EXPECT_FALSE(boxed.allowed);
  EXPECT_TRUE(boxed.outcomes[0].blocked);
  EXPECT_EQ(boxed.outcomes[0].verdict.retry_ms, 900'000);
  // The bucket has refilled long before the block ends.
  auto later = store.decide(c, 600'000);
  EXPECT_FALSE(later.allowed);
  EXPECT_TRUE(later.outcomes[0].blocked);
  EXPECT_TRUE(store.decide(c, 900'002).allowed);
}

TEST(LocalStore, ShadowRulesAreCountedButNotEnforced) {
  auto r = rule("per_ip:api", 60, 60s, 1);
  r.shadow = true;
  LocalStore store;
  ASSERT_TRUE(store.decide(checks({{&r, "s"}}), 0).allowed);
  auto d = store.decide(checks({{&r, "s"}}), 0);
  EXPECT_TRUE(d.allowed);
  ASSERT_EQ(d.shadow_refusals.size(), 1u);
}

TEST(LocalStore, ClearForgetsBucketAndPenalty) {
  auto r = rule("per_ip:login", 5, 300s, 1);
  r.penalty = 900s;
  r.penalty_threshold = 1;
  LocalStore store;
  store.decide(checks({{&r, "k"}}), 0);
  ASSERT_FALSE(store.decide(checks({{&r, "k"}}), 0).allowed);  // boxed now
  EXPECT_TRUE(store.clear("per_ip:login|k"));
  EXPECT_TRUE(store.decide(checks({{&r, "k"}}), 0).allowed);
  EXPECT_FALSE(store.clear("never-seen"));
}

TEST(LocalStore, MemoryIsBoundedByEvictingIdleBuckets) {
  const auto r = rule("per_ip:api", 60, 60s, 60);
  LocalStore store(32 * 10);  // 10 per shard
  for (int i = 0; i < 5000; ++i) store.decide(checks({{&r, std::to_string(i)}}), i * 1000);
  EXPECT_LE(store.size(), 32u * 10 + 32);
}

TEST(LocalStore, ConcurrentRequestsGetExactlyTheBurst) {
  const auto r = rule("per_ip:login", 1, 3600s, 100);  // no refill to speak of
  LocalStore store;
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (store.decide(checks({{&r, "one-key"}}), 0).allowed) ++allowed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 100);
}

TEST(LocalStore, ChecksJoinTheRuleNameAndTheParts) {
  const auto r = rule("per_endpoint:bulk", 5, 300s, 5);
  const auto g = rule("global", 10000, 60s, 10000);
  Checks c;
  c.add(&r, {"u1", "/evaluations/bulk"});
  c.add(&g);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c.key(0), "per_endpoint:bulk|u1|/evaluations/bulk");
  EXPECT_EQ(c.key(1), "global");
  // Keys longer than the inline buffer, and a copy, keep their text.
  const std::string long_part(500, 'x');
  c.add(&r, {long_part});
  const Checks copy = c;
  EXPECT_EQ(copy.key(0), "per_endpoint:bulk|u1|/evaluations/bulk");
  EXPECT_EQ(copy.key(2), "per_endpoint:bulk|" + long_part);
}

Rule global_rule(std::string name, double burst) {
  auto r = rule(std::move(name), 1, 3600s, burst);
  r.scope = Scope::kGlobal;
  return r;
}

TEST(LocalStore, TheGlobalBucketIsSharedByEveryKeyAndClearedByName) {
  const auto g = global_rule("global", 2);
  const auto ip = rule("per_ip:api", 60, 60s, 60);
  LocalStore store;
  EXPECT_TRUE(store.decide(checks({{&ip, "a"}}), 0).allowed);
  Checks a = checks({{&ip, "a"}});
  a.add(&g);
  Checks b = checks({{&ip, "b"}});
  b.add(&g);
  EXPECT_TRUE(store.decide(a, 0).allowed);
  EXPECT_TRUE(store.decide(b, 0).allowed);
  auto refused = store.decide(b, 0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.key(1), "global");
  EXPECT_EQ(store.size(), 3u);  // two IPs and the global bucket
  EXPECT_TRUE(store.clear("global"));
  EXPECT_TRUE(store.decide(b, 0).allowed);
  EXPECT_EQ(store.clear_prefix("glo"), 1u);
  EXPECT_EQ(store.size(), 2u);
}

TEST(LocalStore, AGlobalRuleOfAnotherNameStartsFull) {
  const auto g = global_rule("global", 1);
  const auto renamed = global_rule("global:v2", 1);
  LocalStore store;
  Checks c;
  c.add(&g);
  ASSERT_TRUE(store.decide(c, 0).allowed);
  ASSERT_FALSE(store.decide(c, 0).allowed);
  // Same name, another rule object (a reload): the bucket carries on.
  const auto reloaded = global_rule("global", 1);
  Checks same;
  same.add(&reloaded);
  EXPECT_FALSE(store.decide(same, 0).allowed);
  Checks other;
  other.add(&renamed);
  EXPECT_TRUE(store.decide(other, 0).allowed);
}

TEST(LocalStore, ARuleWithoutAPenaltyHasNoBox) {
  auto boxed = rule("per_ip:login", 5, 300s, 1);
  boxed.penalty = 900s;
  boxed.penalty_threshold = 1;
  LocalStore store;
  ASSERT_TRUE(store.decide(checks({{&boxed, "k"}}), 0).allowed);
  ASSERT_FALSE(store.decide(checks({{&boxed, "k"}}), 1).allowed);  // boxed for 900 s
  // Reloaded without the penalty: refilled after 60 s and no longer blocked.
  auto plain = boxed;
  plain.penalty = 0s;
  EXPECT_FALSE(store.decide(checks({{&boxed, "k"}}), 120'000).allowed);
  EXPECT_TRUE(store.decide(checks({{&plain, "k"}}), 120'000).allowed);
}

TEST(LocalStore, EvictionDuringADecisionKeepsItsOwnBuckets) {
  // One key per shard at most: every decision over two new keys evicts; the idle ones go, the
  // request's own buckets stay valid and are charged.
  const auto a = rule("a", 1, 3600s, 1);
  const auto b = rule("b", 1, 3600s, 1);
  LocalStore store(32);
  for (int i = 0; i < 200; ++i) {
    const std::string id = std::to_string(i);
    auto d = store.decide(checks({{&a, id}, {&b, id}}), 0);
    ASSERT_TRUE(d.allowed) << i;
    EXPECT_FALSE(store.decide(checks({{&a, id}, {&b, id}}), 0).allowed) << i;
  }
}

TEST(LocalStore, ConcurrentRequestsShareTheGlobalBucketExactly) {
  const auto g = global_rule("global", 500);
  const auto ip = rule("per_ip:api", 1, 3600s, 1'000'000);
  LocalStore store;
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Checks c = checks({{&ip, std::to_string(t)}});
      c.add(&g);
      for (int i = 0; i < 400; ++i) {
        if (store.decide(c, 0).allowed) ++allowed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 500);
}

}  // namespace
}  // namespace evald::ratelimit
