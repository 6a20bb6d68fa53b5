#pragma once
/// Query monitoring: per statement shape (the SQL text; values are bound, so the text is the
/// shape) count, failures, total/mean/max time; slow queries logged with their SQL text and
/// never their parameter values.

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"

namespace evald::db {

struct StatementStats {
  std::string sql;
  std::uint64_t count = 0;
  std::uint64_t failures = 0;
  double total_ms = 0;
  double max_ms = 0;
  std::uint64_t slow = 0;
  double mean_ms() const { return count ? total_ms / static_cast<double>(count) : 0; }
};

struct SlowQuery {
  std::string sql;
  double ms = 0;
  SystemTime at{};
};

/// Seconds: 0.5 ms to 2.5 s.
inline constexpr std::array<double, 12> kQueryBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1,    2.5};

struct QueryLatency {
  std::array<std::uint64_t, kQueryBuckets.size() + 1> buckets{};  ///< per bucket, +Inf last
  double sum_seconds = 0;
  std::uint64_t count = 0;
};

class QueryMonitor {
 public:
  QueryMonitor(const Clock& clock, std::chrono::milliseconds slow_threshold);

  void record(std::string_view sql, std::chrono::nanoseconds elapsed, bool ok);

  /// Every statement's figures, most total time first.
  std::vector<StatementStats> statements() const;
  /// The most recent slow queries, newest first (at most kRecentSlow).
  std::vector<SlowQuery> recent_slow() const;
  std::uint64_t total_queries() const;
  std::uint64_t total_failures() const;
  std::uint64_t total_slow() const;
  /// Every query's duration, as a histogram (for the Prometheus metrics).
  QueryLatency latency() const;
  std::chrono::milliseconds slow_threshold() const { return slow_threshold_; }

  static constexpr std::size_t kRecentSlow = 50;
  /// Statement shapes tracked at most; beyond it, new shapes are folded into one "(other)" row.
  static constexpr std::size_t kMaxShapes = 2000;

 private:
  const Clock& clock_;
  std::chrono::milliseconds slow_threshold_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, StatementStats> stats_;
  std::deque<SlowQuery> slow_;
  std::uint64_t total_ = 0, failures_ = 0, slow_total_ = 0;
  QueryLatency latency_;
};

}  // namespace evald::db
