#include "metrics/http_metrics.hpp"

#include <algorithm>

namespace evald::metrics {
namespace {

const std::string kUnmatched = "unmatched";

// A method label from a fixed set (clients can send any token as a method).
std::string_view method_label(std::string_view m) {
  static constexpr std::array<std::string_view, 7> kKnown{"GET",    "POST", "PUT",    "PATCH",
                                                          "DELETE", "HEAD", "OPTIONS"};
  for (auto k : kKnown) {
    if (k == m) return k;
  }
  return "other";
}

std::size_t bucket_of(double seconds) {
  for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    if (seconds <= kLatencyBuckets[i]) return i;
  }
  return kLatencyBuckets.size();
}

prometheus::ClientMetric::Label label(std::string name, std::string_view value) {
  return {std::move(name), std::string(value)};
}

}  // namespace

HttpMetrics::HttpMetrics() = default;

HttpMetrics::Shard& HttpMetrics::shard() {
  thread_local const HttpMetrics* owner = nullptr;
  thread_local Shard* mine = nullptr;
  if (owner != this) {
    owner = this;
    mine = &shards_[next_shard_.fetch_add(1, std::memory_order_relaxed) % kShards];
  }
  return *mine;
}

void HttpMetrics::observe(std::string_view method, const std::string* route, unsigned status,
                          double seconds, std::optional<ErrorCode> error) {
  const auto m = method_label(method);
  const std::string* r = route ? route : &kUnmatched;
  Shard& s = shard();
  std::lock_guard lock(s.mu);
  ++s.requests[{m, r, status}];
  auto& l = s.latency[{m, r}];
  ++l.buckets[bucket_of(seconds)];
  l.sum += seconds;
  ++l.count;
  if (error) ++s.errors[static_cast<std::size_t>(*error) % s.errors.size()];
}

HttpMetrics::Merged HttpMetrics::merge() const {
  Merged m;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mu);
    for (const auto& [k, n] : s.requests) {
      m.requests[{std::get<0>(k), *std::get<1>(k), std::get<2>(k)}] += n;
    }
    for (const auto& [k, l] : s.latency) {
      auto& into = m.latency[{k.first, *k.second}];
      for (std::size_t i = 0; i < l.buckets.size(); ++i) into.buckets[i] += l.buckets[i];
      into.sum += l.sum;
      into.count += l.count;
    }
    for (std::size_t i = 0; i < m.errors.size(); ++i) m.errors[i] += s.errors[i];
  }
  return m;
}

void HttpMetrics::collect(std::vector<prometheus::MetricFamily>& out) const {
  const auto [requests, latency, errors] = merge();

  prometheus::MetricFamily total{
      "http_requests_total", "HTTP requests answered", prometheus::MetricType::Counter, {}};
  for (const auto& [k, n] : requests) {
    prometheus::ClientMetric m;
    m.label = {label("method", std::get<0>(k)), label("route", std::get<1>(k)),
               label("status", std::to_string(std::get<2>(k)))};
    m.counter.value = static_cast<double>(n);
    total.metric.push_back(std::move(m));
  }
  out.push_back(std::move(total));

  prometheus::MetricFamily duration{"http_request_duration_seconds",
                                    "Time from the request read to the response ready",
                                    prometheus::MetricType::Histogram,
                                    {}};
  for (const auto& [k, l] : latency) {
    prometheus::ClientMetric m;
    m.label = {label("method", k.first), label("route", k.second)};
    m.histogram.sample_count = l.count;
    m.histogram.sample_sum = l.sum;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
      cumulative += l.buckets[i];
      m.histogram.bucket.push_back({cumulative, kLatencyBuckets[i]});
    }
    cumulative += l.buckets.back();
    m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
    duration.metric.push_back(std::move(m));
  }
  out.push_back(std::move(duration));

  prometheus::MetricFamily flying{
      "http_requests_in_flight", "Requests being handled now", prometheus::MetricType::Gauge, {}};
  prometheus::ClientMetric g;
  g.gauge.value = static_cast<double>(in_flight());
  flying.metric.push_back(std::move(g));
  out.push_back(std::move(flying));

  prometheus::MetricFamily by_code{"evald_errors_total",
                                   "Error responses by code and category",
                                   prometheus::MetricType::Counter,
                                   {}};
  for (std::size_t i = 0; i <= static_cast<std::size_t>(ErrorCode::kInternalServerError); ++i) {
    const auto& info = error_info(static_cast<ErrorCode>(i));
    prometheus::ClientMetric m;
    m.label = {label("code", info.code), label("category", info.category),
               label("severity", info.severity)};
    m.counter.value = static_cast<double>(errors[i]);
    by_code.metric.push_back(std::move(m));
  }
  out.push_back(std::move(by_code));
}

HttpTotals HttpMetrics::totals() const {
  HttpTotals t;
  const auto [requests, latency, errors] = merge();
  for (const auto& [k, n] : requests) {
    t.requests += n;
    const unsigned status = std::get<2>(k);
    if (status >= 500) {
      t.errors_5xx += n;
    } else if (status >= 400) {
      t.errors_4xx += n;
    }
  }
  for (const auto& [k, l] : latency) {
    t.duration_sum += l.sum;
    for (std::size_t i = 0; i < l.buckets.size(); ++i) t.latency[i] += l.buckets[i];
  }
  for (std::size_t i = 0; i <= static_cast<std::size_t>(ErrorCode::kInternalServerError); ++i) {
    if (!errors[i]) continue;
    const auto& info = error_info(static_cast<ErrorCode>(i));
    t.errors_by_code[std::string(info.code)] += errors[i];
    t.errors_by_category[std::string(info.category)] += errors[i];
  }
  return t;
}

}  // namespace evald::metrics
