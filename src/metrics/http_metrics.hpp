#pragma once
/// Request metrics on the hot path: counters and latency histograms kept in per-thread shards
/// (a shard's lock is only contended while a scrape reads it), merged at scrape time into
/// Prometheus families. Labels are route templates, methods, statuses and error codes only, so
/// their number is bounded whatever the clients send.

#include <prometheus/metric_family.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"

namespace evald::metrics {

/// Seconds: 5 ms to 10 s.
inline constexpr std::array<double, 12> kLatencyBuckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                        0.5,   1,    2.5,   5,    7.5, 10};

struct HttpTotals {
  std::uint64_t requests = 0;
  std::uint64_t errors_4xx = 0;
  std::uint64_t errors_5xx = 0;
  double duration_sum = 0;
  std::map<std::string, std::uint64_t> errors_by_code;              ///< RATE_LIMIT_EXCEEDED -> n
  std::map<std::string, std::uint64_t> errors_by_category;          ///< security -> n
  std::array<std::uint64_t, kLatencyBuckets.size() + 1> latency{};  ///< per bucket, +Inf last
};

class HttpMetrics {
 public:
  HttpMetrics();
  /// `route` is the route template (nullptr when no route matched).
  void observe(std::string_view method, const std::string* route, unsigned status, double seconds,
               std::optional<ErrorCode> error);
  void started() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  void finished() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }
  std::int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }

  void collect(std::vector<prometheus::MetricFamily>& out) const;
  HttpTotals totals() const;

 private:
  struct Series {
    std::uint64_t count = 0;
  };
  struct Latency {
    std::array<std::uint64_t, kLatencyBuckets.size() + 1> buckets{};
    double sum = 0;
    std::uint64_t count = 0;
  };
  struct Shard {
    mutable std::mutex mu;
    // (method, route, status) -> count; (method, route) -> latency; error code -> count.
    std::map<std::tuple<std::string_view, const std::string*, unsigned>, std::uint64_t> requests;
    std::map<std::pair<std::string_view, const std::string*>, Latency> latency;
    std::array<std::uint64_t, 32> errors{};
  };
  Shard& shard();
  // Every shard's figures added up, labelled by route text.
  struct Merged {
    std::map<std::tuple<std::string_view, std::string_view, unsigned>, std::uint64_t> requests;
    std::map<std::pair<std::string_view, std::string_view>, Latency> latency;
    std::array<std::uint64_t, 32> errors{};
  };
  Merged merge() const;

  static constexpr std::size_t kShards = 16;
  std::array<Shard, kShards> shards_;
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<unsigned> next_shard_{0};
};

}  // namespace evald::metrics
