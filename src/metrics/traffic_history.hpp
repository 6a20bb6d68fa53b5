#pragma once
/// The last hour of traffic in fixed steps, for the live operations page (/status): requests,
/// a latency histogram (so that each step has its own p50 and p99), error responses by code,
/// rate-limit refusals and failed logins. A ring of a fixed number of slots allocated once;
/// a slot is addressed by its step's number (wall-clock time from the injected Clock divided by
/// the step), so a slot still holding an older step reads as empty and is cleared by the first
/// event of its new step. Writers use relaxed atomics and no lock; only the first writer of a
/// step clears the slot (the others of that instant wait for it, a few nanoseconds).

#include <array>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace evald::metrics {

struct TrafficHistoryOptions {
  std::chrono::seconds step{10};
  std::size_t steps = 360;  ///< with 10 s steps: one hour
};

/// One step's figures as read back.
struct TrafficStep {
  SystemTime start{};
  /// The part of the step the figures cover: the whole step, or less for the step in progress
  /// and the one the history started in (never under a second, so one request is no spike).
  double seconds = 0;
  std::uint64_t requests = 0;
  /// Requests with a measured latency (replies the server gave before the pipeline have none).
  std::uint64_t measured = 0;
  std::optional<double> p50_ms;  ///< none without measured requests
  std::optional<double> p99_ms;
  std::array<std::uint64_t, 16> errors{};  ///< by ErrorCode
  std::uint64_t rate_limit_refusals = 0;
  std::uint64_t failed_logins = 0;

  double request_rate() const { return seconds > 0 ? static_cast<double>(requests) / seconds : 0; }
};

class TrafficHistory {
 public:
  /// Latency buckets: the first ends at 0.1 ms, each next one ends sqrt(2) times higher, the
  /// last (from about 52 s) is open; a quantile is off by less than a bucket's width.
  static constexpr std::size_t kLatencyBuckets = 40;
  static constexpr std::size_t kErrorCodes = 16;

  explicit TrafficHistory(const Clock& clock, TrafficHistoryOptions options = {});
  TrafficHistory(const TrafficHistory&) = delete;
  TrafficHistory& operator=(const TrafficHistory&) = delete;

  /// A finished request; `latency` is empty for a reply that did not go through the pipeline.
  /// A RATE_LIMIT_EXCEEDED error also counts as a rate-limit refusal.
  void record_request(std::optional<std::chrono::microseconds> latency,
                      std::optional<ErrorCode> error);
  void record_failed_login();

  /// The steps from the one the history started in (or a full window back, whichever is later)
  /// to the one in progress, oldest first; a step without events is zeros.
  std::vector<TrafficStep> steps() const;

  std::chrono::seconds step() const { return options_.step; }
  std::chrono::seconds window() const { return options_.step * options_.steps; }

  static std::size_t bucket_of(std::chrono::microseconds latency);
  /// The bucket's upper bound in milliseconds (infinity for the last).
  static double bucket_upper_ms(std::size_t bucket);
  /// The q-quantile (0 < q <= 1) of a histogram, interpolated within its bucket on a log scale;
  /// none when the histogram is empty.
  static std::optional<double> quantile_ms(const std::array<std::uint64_t, kLatencyBuckets>& h,
                                           double q);

 private:
  static constexpr std::int64_t kEmpty = INT64_MIN;
  static constexpr std::int64_t kClearing = INT64_MIN + 1;
  struct alignas(64) Slot {
    std::atomic<std::int64_t> step{kEmpty};
    std::atomic<std::uint32_t> requests{0};
    std::atomic<std::uint32_t> refusals{0};
    std::atomic<std::uint32_t> failed_logins{0};
    std::array<std::atomic<std::uint32_t>, kErrorCodes> errors{};
    std::array<std::atomic<std::uint32_t>, kLatencyBuckets> latency{};
  };
  std::int64_t step_of(SystemTime t) const;
  SystemTime start_of(std::int64_t step) const;
  /// The slot of `step`, cleared first if it held an older one; null when it already holds a
  /// later step (an event delayed by more than the window, or a clock set back that far).
  Slot* claim(std::int64_t step);

  const Clock& clock_;
  TrafficHistoryOptions options_;
  std::unique_ptr<Slot[]> slots_;
  SystemTime created_;
};

}  // namespace evald::metrics
