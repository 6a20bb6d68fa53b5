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

TEST(LocalStore, PassesOnlyWhenEveryRuleAllowsAndARefusalConsumesNothing) {
  const auto ip = rule("per_ip:api", 60, 60s, 60);
  const auto login = rule("per_ip:login", 5, 300s, 2);
  LocalStore store;
  const std::vector<Check> both{{&ip, "ip|1"}, {&login, "login|1"}};
  EXPECT_TRUE(store.decide(both, 0).allowed);
  EXPECT_TRUE(store.decide(both, 0).allowed);
  auto refused = store.decide(both, 0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.violated, 1);
  EXPECT_EQ(refused.outcomes[1].rule->name, "per_ip:login");
  // The api bucket lost only the two allowed requests, not the refused one.
  EXPECT_DOUBLE_EQ(refused.outcomes[0].verdict.remaining, 58.0);
  const std::vector<Check> api_only{{&ip, "ip|1"}};
  EXPECT_DOUBLE_EQ(store.decide(api_only, 0).outcomes[0].verdict.remaining, 57.0);
}

TEST(LocalStore, KeysAreIndependent) {
  const auto r = rule("per_user:default", 1000, 3600s, 1);
  LocalStore store;
  EXPECT_TRUE(store.decide({{&r, "u|alice"}}, 0).allowed);
  EXPECT_FALSE(store.decide({{&r, "u|alice"}}, 0).allowed);
  EXPECT_TRUE(store.decide({{&r, "u|bob"}}, 0).allowed);
}

TEST(LocalStore, TightestRuleIsTheOneClosestToItsLimit) {
  const auto wide = rule("global", 10000, 60s, 10000);
  const auto narrow = rule("per_ip:login", 5, 300s, 5);
  LocalStore store;
  auto d = store.decide({{&wide, "g"}, {&narrow, "l|1"}}, 0);
  ASSERT_TRUE(d.allowed);
  EXPECT_EQ(d.tightest, 1);
}

TEST(LocalStore, PenaltyBoxBlocksEvenAfterRefill) {
  auto r = rule("per_ip:login", 5, 300s, 1);
  r.penalty = 900s;
  r.penalty_threshold = 2;
  LocalStore store;
  const std::vector<Check> c{{&r, "l|x"}};
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
  ASSERT_TRUE(store.decide({{&r, "s"}}, 0).allowed);
  auto d = store.decide({{&r, "s"}}, 0);
  EXPECT_TRUE(d.allowed);
  ASSERT_EQ(d.shadow_refusals.size(), 1u);
}

TEST(LocalStore, ClearForgetsBucketAndPenalty) {
  auto r = rule("per_ip:login", 5, 300s, 1);
  r.penalty = 900s;
  r.penalty_threshold = 1;
  LocalStore store;
  store.decide({{&r, "k"}}, 0);
  ASSERT_FALSE(store.decide({{&r, "k"}}, 0).allowed);  // boxed now
  EXPECT_TRUE(store.clear("k"));
  EXPECT_TRUE(store.decide({{&r, "k"}}, 0).allowed);
  EXPECT_FALSE(store.clear("never-seen"));
}

TEST(LocalStore, MemoryIsBoundedByEvictingIdleBuckets) {
  const auto r = rule("per_ip:api", 60, 60s, 60);
  LocalStore store(32 * 10);  // 10 per shard
  for (int i = 0; i < 5000; ++i) store.decide({{&r, "ip|" + std::to_string(i)}}, i * 1000);
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
        if (store.decide({{&r, "one-key"}}, 0).allowed) ++allowed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 100);
}

}  // namespace
}  // namespace evald::ratelimit
