#include "ratelimit/bucket.hpp"

#include <gtest/gtest.h>

namespace evald::ratelimit {
namespace {

using namespace std::chrono_literals;

Rule rule(double limit, std::chrono::milliseconds window, double burst) {
  Rule r;
  r.name = "test";
  r.limit = limit;
  r.window = window;
  r.burst = burst;
  return r;
}

// Takes one token if every check allows it, like the stores do.
bool take(Bucket& b, const Rule& r, std::int64_t now) {
  auto v = peek(b, r, now);
  if (v.allowed) commit(b, r, now);
  return v.allowed;
}

TEST(Bucket, StartsFullAndAllowsTheBurst) {
  const auto r = rule(5, 300s, 5);
  Bucket b;
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(take(b, r, 1000)) << i;
  EXPECT_FALSE(take(b, r, 1000));
}

TEST(Bucket, AWaitTooLongForAnInt64IsReportedAsNever) {
  // A token per 10^9 years with a burst of two: waits of about 3e22 ms.
  const auto r = rule(1e-9, std::chrono::milliseconds(365LL * 24 * 3600 * 1000), 2);
  Bucket b;
  ASSERT_TRUE(take(b, r, 0));
  auto v = peek(b, r, 0);
  ASSERT_TRUE(v.allowed);
  EXPECT_EQ(v.reset_ms, static_cast<std::int64_t>(kNeverMs));  // a token missing: 3e22 ms
  ASSERT_TRUE(take(b, r, 0));
  v = peek(b, r, 0);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.retry_ms, static_cast<std::int64_t>(kNeverMs));
  EXPECT_EQ(v.reset_ms, static_cast<std::int64_t>(kNeverMs));
  // A slow rule that fits is not cut: a token per 10^5 years is 3.15e15 ms.
  const auto slow = rule(1, std::chrono::milliseconds(100'000LL * 365 * 24 * 3600 * 1000), 1);
  Bucket c;
  ASSERT_TRUE(take(c, slow, 0));
  EXPECT_EQ(peek(c, slow, 0).retry_ms, 100'000LL * 365 * 24 * 3600 * 1000);
}

TEST(Bucket, RefillsContinuouslyToTheMillisecond) {
  const auto r = rule(60, 60s, 10);  // one token per second
  Bucket b;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(take(b, r, 0));
  EXPECT_FALSE(take(b, r, 999));
  EXPECT_TRUE(take(b, r, 1000));
  EXPECT_FALSE(take(b, r, 1000));
  // Fractions accumulate: 0.5 s + 0.5 s make a token.
  EXPECT_FALSE(take(b, r, 1500));
  EXPECT_TRUE(take(b, r, 2000));
}

TEST(Bucket, ARefusalConsumesNothing) {
  const auto r = rule(60, 60s, 1);
  Bucket b;
  ASSERT_TRUE(take(b, r, 0));
  for (int t = 100; t < 1000; t += 100) EXPECT_FALSE(take(b, r, t));
  EXPECT_TRUE(take(b, r, 1000));  // exactly as if the refused ones never came
}

TEST(Bucket, ExactRefillInstantsAreNotLostToRounding) {
  const auto r = rule(1, 3600s, 1);  // one token an hour
  Bucket b;
  ASSERT_TRUE(take(b, r, 0));
  for (std::int64_t k = 1; k <= 50; ++k) {
    EXPECT_FALSE(take(b, r, k * 3'600'000 - 1)) << k;
    EXPECT_TRUE(take(b, r, k * 3'600'000)) << k;
  }
}

TEST(Bucket, NeverHoldsMoreThanTheBurst) {
  const auto r = rule(60, 60s, 3);
  Bucket b;
  ASSERT_TRUE(take(b, r, 0));
  EXPECT_DOUBLE_EQ(available(b, r, 3'600'000), 3.0);
}

TEST(Bucket, RetryAndResetAgreeWithTheRefill) {
  const auto r = rule(10, 60s, 2);  // one token every 6 s
  Bucket b;
  ASSERT_TRUE(take(b, r, 0));
  ASSERT_TRUE(take(b, r, 0));
  auto v = peek(b, r, 1000);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.retry_ms, 5000);                 // 6 s from the last take
  EXPECT_EQ(v.reset_ms, 11000);                // both tokens back
  EXPECT_TRUE(take(b, r, 1000 + v.retry_ms));  // a retry after Retry-After passes
}

TEST(Penalty, BlocksAfterRepeatedRefusalsAndDoubles) {
  Rule r = rule(5, 300s, 5);
  r.penalty = 900s;
  r.penalty_threshold = 3;
  r.penalty_window = 60s;
  r.max_penalty = 3000s;
  Penalty p;
  EXPECT_FALSE(count_refusal(p, r, 0));
  EXPECT_FALSE(count_refusal(p, r, 1000));
  EXPECT_TRUE(count_refusal(p, r, 2000));
  EXPECT_TRUE(blocked(p, 2000 + 899'999));
  EXPECT_FALSE(blocked(p, 2000 + 900'000));
  // The second offence doubles, the third is capped.
  for (int i = 0; i < 3; ++i) count_refusal(p, r, 1'000'000);
  EXPECT_EQ(p.blocked_until_ms, 1'000'000 + 1'800'000);
  for (int i = 0; i < 3; ++i) count_refusal(p, r, 5'000'000);
  EXPECT_EQ(p.blocked_until_ms, 5'000'000 + 3'000'000);
}

TEST(Penalty, RefusalsOutsideTheWindowDoNotAddUp) {
  Rule r = rule(5, 300s, 5);
  r.penalty = 60s;
  r.penalty_threshold = 3;
  r.penalty_window = 10s;
  Penalty p;
  count_refusal(p, r, 0);
  count_refusal(p, r, 5000);
  EXPECT_FALSE(count_refusal(p, r, 10'000));  // a new window began
  EXPECT_FALSE(blocked(p, 10'000));
}

TEST(Penalty, NoPenaltyRuleNeverBlocks) {
  Rule r = rule(10000, 60s, 10000);  // like the global rule
  Penalty p;
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(count_refusal(p, r, i));
  EXPECT_FALSE(blocked(p, 100));
}

}  // namespace
}  // namespace evald::ratelimit
