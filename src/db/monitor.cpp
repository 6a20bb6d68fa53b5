#include "db/monitor.hpp"

#include <algorithm>

#include "log/log.hpp"

namespace evald::db {

QueryMonitor::QueryMonitor(const Clock& clock, std::chrono::milliseconds slow_threshold)
    : clock_(clock), slow_threshold_(slow_threshold) {}

void QueryMonitor::record(std::string_view sql, std::chrono::nanoseconds elapsed, bool ok) {
  const double ms = std::chrono::duration<double, std::milli>(elapsed).count();
  const bool slow = elapsed >= slow_threshold_;
  {
    std::lock_guard lock(mu_);
    auto it = stats_.find(std::string(sql));
    if (it == stats_.end()) {
      const std::string key = stats_.size() < kMaxShapes ? std::string(sql) : "(other)";
      it = stats_.try_emplace(key, StatementStats{key}).first;
    }
    auto& s = it->second;
    ++s.count;
    ++total_;
    if (!ok) ++s.failures, ++failures_;
    s.total_ms += ms;
    s.max_ms = std::max(s.max_ms, ms);
    const double seconds = ms / 1000.0;
    std::size_t b = 0;
    while (b < kQueryBuckets.size() && seconds > kQueryBuckets[b]) ++b;
    ++latency_.buckets[b];
    latency_.sum_seconds += seconds;
    ++latency_.count;
    if (slow) {
      ++s.slow;
      ++slow_total_;
      slow_.push_front(SlowQuery{std::string(sql), ms, clock_.now()});
      if (slow_.size() > kRecentSlow) slow_.pop_back();
    }
  }
  if (slow) {
    log::get("db")->warn("{}", log::Line("slow query").kv("ms", ms).kv("sql", sql).kv("ok", ok));
  }
}

std::vector<StatementStats> QueryMonitor::statements() const {
  std::vector<StatementStats> out;
  {
    std::lock_guard lock(mu_);
    out.reserve(stats_.size());
    for (const auto& [k, v] : stats_) out.push_back(v);
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.total_ms > b.total_ms; });
  return out;
}

std::vector<SlowQuery> QueryMonitor::recent_slow() const {
  std::lock_guard lock(mu_);
  return {slow_.begin(), slow_.end()};
}

std::uint64_t QueryMonitor::total_queries() const {
  std::lock_guard lock(mu_);
  return total_;
}
std::uint64_t QueryMonitor::total_failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}
QueryLatency QueryMonitor::latency() const {
  std::lock_guard lock(mu_);
  return latency_;
}

std::uint64_t QueryMonitor::total_slow() const {
  std::lock_guard lock(mu_);
  return slow_total_;
}

}  // namespace evald::db
