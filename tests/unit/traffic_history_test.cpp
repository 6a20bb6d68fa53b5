#include "metrics/traffic_history.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>

namespace evald::metrics {
namespace {

using namespace std::chrono_literals;
using std::chrono::microseconds;

// The manual clock starts at 1'700'000'000 s, a multiple of 10: the first step is whole.
struct History {
  ManualClock clock;
  TrafficHistory h{clock};
};

std::uint64_t code(const TrafficStep& s, ErrorCode c) {
  return s.errors[static_cast<std::size_t>(c)];
}

TEST(TrafficHistory, AFreshHistoryHasTheCurrentStepEmpty) {
  History x;
  const auto steps = x.h.steps();
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].start, x.clock.now());
  EXPECT_EQ(steps[0].requests, 0u);
  EXPECT_FALSE(steps[0].p50_ms);
  EXPECT_FALSE(steps[0].p99_ms);
  EXPECT_DOUBLE_EQ(steps[0].seconds, 1.0);  // never under a second
  EXPECT_EQ(x.h.step(), 10s);
  EXPECT_EQ(x.h.window(), 3600s);
}

TEST(TrafficHistory, CountsRequestsErrorsRefusalsAndFailedLoginsInTheCurrentStep) {
  History x;
  x.clock.advance(4s);
  for (int i = 0; i < 5; ++i) x.h.record_request(microseconds(2000), std::nullopt);
  x.h.record_request(microseconds(900), ErrorCode::kNotFound);
  x.h.record_request(microseconds(300), ErrorCode::kRateLimitExceeded);
  x.h.record_request(microseconds(300), ErrorCode::kRateLimitExceeded);
  x.h.record_request(std::nullopt, ErrorCode::kPayloadTooLarge);  // replied before the pipeline
  x.h.record_failed_login();
  x.h.record_failed_login();
  const auto steps = x.h.steps();
  ASSERT_EQ(steps.size(), 1u);
  const auto& s = steps[0];
  EXPECT_EQ(s.requests, 9u);
  EXPECT_EQ(s.measured, 8u);
  EXPECT_EQ(code(s, ErrorCode::kNotFound), 1u);
  EXPECT_EQ(code(s, ErrorCode::kRateLimitExceeded), 2u);
  EXPECT_EQ(code(s, ErrorCode::kPayloadTooLarge), 1u);
  EXPECT_EQ(code(s, ErrorCode::kInternalServerError), 0u);
  EXPECT_EQ(s.rate_limit_refusals, 2u);
  EXPECT_EQ(s.failed_logins, 2u);
  // The step in progress covers the 4 s gone so far: the rate is per second of those.
  EXPECT_DOUBLE_EQ(s.seconds, 4.0);
  EXPECT_DOUBLE_EQ(s.request_rate(), 9.0 / 4.0);
}

TEST(TrafficHistory, StepsRollOverAndAGapIsZeros) {
  History x;
  x.h.record_request(microseconds(1000), std::nullopt);
  x.clock.advance(10s);  // the next step
  x.h.record_request(microseconds(1000), std::nullopt);
  x.h.record_request(microseconds(1000), std::nullopt);
  x.clock.advance(35s);  // three steps later, half-way into the step
  x.h.record_failed_login();
  const auto steps = x.h.steps();
  ASSERT_EQ(steps.size(), 5u);
  const std::vector<std::uint64_t> requests{1, 2, 0, 0, 0};
  for (std::size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i].requests, requests[i]) << i;
    EXPECT_EQ(steps[i].start, SystemTime{std::chrono::seconds{1'700'000'000 + 10 * i}}) << i;
    EXPECT_EQ(steps[i].failed_logins, i == 4 ? 1u : 0u) << i;
  }
  EXPECT_FALSE(steps[2].p50_ms);  // no request, no latency
  EXPECT_DOUBLE_EQ(steps[0].seconds, 10.0);
  EXPECT_DOUBLE_EQ(steps[4].seconds, 5.0);
  EXPECT_DOUBLE_EQ(steps[1].request_rate(), 0.2);
}

TEST(TrafficHistory, StepsBeforeTheHistoryStartedAreNotShownAndItsFirstStepIsPartial) {
  ManualClock clock;
  clock.advance(7s);  // started 7 s into a step
  TrafficHistory h(clock);
  h.record_request(microseconds(1000), std::nullopt);
  clock.advance(5s);
  const auto steps = h.steps();
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_DOUBLE_EQ(steps[0].seconds, 3.0);
  EXPECT_EQ(steps[0].requests, 1u);
  EXPECT_DOUBLE_EQ(steps[1].seconds, 2.0);
}

TEST(TrafficHistory, OldStepsExpireAfterTheWindowAndTheMemoryIsBounded) {
  History x;
  for (int i = 0; i < 7; ++i) x.h.record_request(microseconds(1000), ErrorCode::kConflict);
  x.clock.advance(3590s);  // the last step of the window: the first is still in it
  auto steps = x.h.steps();
  ASSERT_EQ(steps.size(), 360u);
  EXPECT_EQ(steps.front().requests, 7u);
  x.clock.advance(10s);  // one step on: the first step has gone, the ring holds 360 steps
  steps = x.h.steps();
  ASSERT_EQ(steps.size(), 360u);
  for (const auto& s : steps) EXPECT_EQ(s.requests, 0u);
  EXPECT_EQ(steps.back().start, SystemTime{std::chrono::seconds{1'700'003'600}});
  // The new step reuses the first step's slot: it starts from zero, not from the old counts.
  x.h.record_request(microseconds(1000), std::nullopt);
  steps = x.h.steps();
  EXPECT_EQ(steps.back().requests, 1u);
  EXPECT_EQ(code(steps.back(), ErrorCode::kConflict), 0u);
  // Days later: still 360 steps, every one of them empty.
  x.clock.advance(72h);
  steps = x.h.steps();
  ASSERT_EQ(steps.size(), 360u);
  for (const auto& s : steps) EXPECT_EQ(s.requests, 0u);
}

TEST(TrafficHistory, AnEventForAStepAlreadyOverwrittenIsDropped) {
  History x;
  x.clock.advance(3600s);
  x.h.record_request(microseconds(1000), std::nullopt);
  x.clock.advance(-3600s);  // the clock set back an hour: that step's slot holds a later one
  x.h.record_request(microseconds(1000), std::nullopt);
  x.clock.advance(3600s);
  EXPECT_EQ(x.h.steps().back().requests, 1u);
}

TEST(TrafficHistory, PercentilesPerStep) {
  History x;
  for (int i = 0; i < 98; ++i) x.h.record_request(microseconds(1000), std::nullopt);
  x.h.record_request(microseconds(500'000), std::nullopt);
  x.h.record_request(microseconds(500'000), std::nullopt);
  x.clock.advance(10s);
  for (int i = 0; i < 10; ++i) x.h.record_request(microseconds(40'000), std::nullopt);
  const auto steps = x.h.steps();
  ASSERT_EQ(steps.size(), 2u);
  // Within a bucket (a factor sqrt(2)) of the true value.
  auto near = [](std::optional<double> got, double want) {
    return got && *got > want / std::sqrt(2.0) && *got < want * std::sqrt(2.0);
  };
  EXPECT_TRUE(near(steps[0].p50_ms, 1.0)) << *steps[0].p50_ms;
  EXPECT_TRUE(near(steps[0].p99_ms, 500.0)) << *steps[0].p99_ms;
  EXPECT_TRUE(near(steps[1].p50_ms, 40.0)) << *steps[1].p50_ms;
  EXPECT_TRUE(near(steps[1].p99_ms, 40.0)) << *steps[1].p99_ms;
  EXPECT_LE(*steps[0].p50_ms, *steps[0].p99_ms);
}

TEST(TrafficHistory, QuantilesOfAHistogram) {
  std::array<std::uint64_t, TrafficHistory::kLatencyBuckets> h{};
  EXPECT_FALSE(TrafficHistory::quantile_ms(h, 0.5));
  h[TrafficHistory::bucket_of(microseconds(50))] = 4;  // the first bucket: 0 to 0.1 ms
  EXPECT_NEAR(*TrafficHistory::quantile_ms(h, 0.5), 0.05, 1e-9);
  EXPECT_NEAR(*TrafficHistory::quantile_ms(h, 1.0), 0.1, 1e-9);
  h = {};
  h.back() = 1;  // the open bucket: read as one more bucket's width
  const double last = TrafficHistory::bucket_upper_ms(TrafficHistory::kLatencyBuckets - 2);
  EXPECT_NEAR(*TrafficHistory::quantile_ms(h, 0.99), last * std::sqrt(2.0), 1e-6);
}

TEST(TrafficHistory, BucketsAreLogScaleAndCoverEveryLatency) {
  EXPECT_EQ(TrafficHistory::bucket_of(microseconds(0)), 0u);
  EXPECT_EQ(TrafficHistory::bucket_of(microseconds(100)), 0u);
  EXPECT_EQ(TrafficHistory::bucket_of(microseconds(101)), 1u);
  EXPECT_EQ(TrafficHistory::bucket_of(microseconds(3'600'000'000LL)),
            TrafficHistory::kLatencyBuckets - 1);
  EXPECT_TRUE(std::isinf(TrafficHistory::bucket_upper_ms(TrafficHistory::kLatencyBuckets - 1)));
  for (long long us : {1LL, 99LL, 141LL, 142LL, 200LL, 999LL, 1000LL, 1001LL, 12'345LL, 250'000LL,
                       9'999'999LL, 51'000'000LL}) {
    const auto b = TrafficHistory::bucket_of(microseconds(us));
    EXPECT_LE(static_cast<double>(us) / 1000, TrafficHistory::bucket_upper_ms(b)) << us;
    if (b > 0) {
      EXPECT_GT(static_cast<double>(us) / 1000, TrafficHistory::bucket_upper_ms(b - 1)) << us;
    }
  }
  for (std::size_t b = 1; b + 1 < TrafficHistory::kLatencyBuckets; ++b) {
    EXPECT_NEAR(TrafficHistory::bucket_upper_ms(b) / TrafficHistory::bucket_upper_ms(b - 1),
                std::sqrt(2.0), 1e-9);
  }
}

TEST(TrafficHistory, ConcurrentWritersAcrossStepsLoseNothing) {
  History x;
  constexpr int kPerThread = 200'000;
  // One writer also moves the clock on (200 s in all, within the window), so new steps' slots
  // are claimed and cleared while the other writer records.
  auto writer = [&](bool ticks) {
    for (int i = 0; i < kPerThread; ++i) {
      if (ticks && i % 1000 == 0) x.clock.advance(1s);
      x.h.record_request(microseconds(1000 + i % 5000),
                         i % 10 == 0 ? std::optional(ErrorCode::kNotFound) : std::nullopt);
      if (i % 100 == 0) x.h.record_failed_login();
    }
  };
  std::thread a(writer, true), b(writer, false);
  a.join();
  b.join();
  const auto steps = x.h.steps();
  EXPECT_EQ(steps.size(), 21u);
  std::uint64_t requests = 0, measured = 0, not_found = 0, failed = 0;
  for (const auto& s : steps) {
    requests += s.requests;
    measured += s.measured;
    not_found += code(s, ErrorCode::kNotFound);
    failed += s.failed_logins;
  }
  EXPECT_EQ(requests, 2u * kPerThread);
  EXPECT_EQ(measured, 2u * kPerThread);
  EXPECT_EQ(not_found, 2u * kPerThread / 10);
  EXPECT_EQ(failed, 2u * kPerThread / 100);
}

}  // namespace
}  // namespace evald::metrics
