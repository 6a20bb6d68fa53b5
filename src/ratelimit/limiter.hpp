#pragma once
/// The rate limiter: which buckets a request draws from, one decision over all of them, and
/// the statistics. Stores are behind this class, so the Redis store can take the local one's
/// place without the middleware changing.

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ratelimit/client_ip.hpp"
#include "ratelimit/local_store.hpp"
#include "ratelimit/rules.hpp"

namespace evald::ratelimit {

struct RequestInfo {
  std::string client_ip;
  std::string user_id;  ///< empty when anonymous
  std::string role;
  std::string category;  ///< the route's: login, upload, admin, api, bulk, export
  std::string route;     ///< the route template, for per-endpoint buckets
};

struct Refusal {
  std::int64_t at_ms = 0;
  std::string key;
  std::string rule;
};

struct RuleStats {
  std::uint64_t allowed = 0;
  std::uint64_t refused = 0;
  std::uint64_t shadow_refused = 0;
  std::uint64_t penalties = 0;
};

struct LimiterStats {
  std::uint64_t total = 0;
  std::uint64_t allowed = 0;
  std::uint64_t refused = 0;
  std::uint64_t bypassed = 0;
  std::map<std::string, RuleStats> rules;
  std::vector<Refusal> recent;  ///< newest first, at most kRecentRefusals
};

class Limiter {
 public:
  Limiter(RuleSet rules, std::size_t max_keys = 1'000'000);

  Decision check(const RequestInfo& request, std::int64_t now_ms);
  void count_bypass() { bypassed_.fetch_add(1, std::memory_order_relaxed); }
  /// Clears the buckets and penalty of one identifier in one scope ("per_ip", "per_user",
  /// "per_endpoint" or "global"); returns how many keys were cleared.
  std::size_t clear(std::string_view scope, std::string_view identifier);
  LimiterStats stats() const;
  const RuleSet& rules() const { return rules_; }

  static constexpr std::size_t kRecentRefusals = 50;

 private:
  RuleSet rules_;
  LocalStore store_;
  std::atomic<std::uint64_t> bypassed_{0};
  mutable std::mutex mu_;
  LimiterStats stats_;
  std::deque<Refusal> recent_;
};

}  // namespace evald::ratelimit
