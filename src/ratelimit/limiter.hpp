#pragma once
/// The rate limiter: which buckets a request draws from, one decision over all of them in the
/// active store (Redis when configured and answering, in-process otherwise), the statistics,
/// the admin clear, and rule reloads that never drop a request.

#include <array>
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "ratelimit/decision.hpp"
#include "ratelimit/local_store.hpp"
#include "ratelimit/redis_store.hpp"
#include "ratelimit/rules.hpp"

namespace evald::ratelimit {

/// Views into the request: it must outlive the check.
struct RequestInfo {
  std::string_view client_ip;
  std::string_view user_id;  ///< empty when anonymous
  std::string_view role;
  std::string_view category;  ///< the route's: login, upload, admin, api, bulk, export
  std::string_view route;     ///< the route template, for per-endpoint buckets
};

struct Refusal {
  std::int64_t at_ms = 0;  ///< wall-clock time, ms since the epoch
  std::string key;
  std::string rule;
  std::string client_ip;
  std::string route;
  bool penalty = false;
};

struct RuleStats {
  std::uint64_t allowed = 0;
  std::uint64_t refused = 0;
  std::uint64_t shadow_refused = 0;
  std::uint64_t penalties = 0;  ///< times a key was put in the box
};

struct LimiterStats {
  std::uint64_t total = 0;
  std::uint64_t allowed = 0;
  std::uint64_t refused = 0;
  std::uint64_t bypassed = 0;
  std::uint64_t redis_decisions = 0;
  std::uint64_t local_decisions = 0;
  std::map<std::string, RuleStats> rules;
  std::vector<Refusal> recent;  ///< newest first, at most kRecentRefusals
  StoreMode mode = StoreMode::kLocal;
  std::optional<RedisStatus> redis;  ///< when REDIS_URL is set
  std::size_t local_keys = 0;
  std::size_t penalties_active = 0;  ///< keys this instance has seen put in the box, still in it
};

struct LimiterOptions {
  std::size_t max_keys = 1'000'000;
  std::optional<RedisOptions> redis;
  /// Refusal security events: at most one per key per this interval.
  std::chrono::milliseconds event_interval{60'000};
};

/// Builds a request's checks: per IP by category, per user by role, per endpoint by category
/// (keyed on the user, or on the IP when anonymous), and the global rule.
Checks checks_for(const RuleSet& rules, const RequestInfo& request);

class Limiter {
 public:
  Limiter(RuleSet rules, const Clock& clock, LimiterOptions options = {});
  ~Limiter();
  Limiter(const Limiter&) = delete;
  Limiter& operator=(const Limiter&) = delete;

  /// Connects to Redis (when configured) and starts its probe.
  void start();
  /// Stops the probe and closes the Redis connections; call after the I/O threads stop.
  void stop();

  /// True when Redis is configured and currently answering: check() must then be awaited.
  bool redis_active() const { return redis_ && redis_->available(); }
  /// The decision of the in-process store (always synchronous), written into `d`.
  void check_local(const RequestInfo& request, Decision& d);
  Decision check_local(const RequestInfo& request) {
    Decision d;
    check_local(request, d);
    return d;
  }
  /// The decision of the active store; falls back to the in-process store when Redis fails.
  boost::asio::awaitable<Decision> check(const RequestInfo& request);

  void count_bypass() { bypassed_.fetch_add(1, std::memory_order_relaxed); }
  /// Whether this refusal should become a security event: at most one per key per interval,
  /// and at most a few a second overall, so a flood cannot turn into a storm of writes.
  bool should_report(std::string_view key);

  /// Clears the buckets and penalties of one identifier in one scope ("per_ip", "per_user",
  /// "per_endpoint" or "global"), in-process and in Redis when configured; how many keys went,
  /// or nullopt when Redis is configured and the clear did not reach it (down or failed).
  boost::asio::awaitable<std::optional<std::size_t>> clear(std::string scope,
                                                           std::string identifier);

  /// Replaces the rules; requests in flight finish with the rules they started with.
  void reload(RuleSet rules);
  std::shared_ptr<const RuleSet> rules() const;
  StoreMode mode() const;
  LimiterStats stats() const;

  static constexpr std::size_t kRecentRefusals = 50;

 private:
  std::int64_t now_ms() const;
  void record(const Decision& d, const RequestInfo& request);

  // The rules in force. Every set ever loaded stays alive (reloads are rare and sets are
  // small), so a request holds a plain pointer and never touches a shared reference count.
  std::atomic<const RuleSet*> rules_;
  std::vector<std::shared_ptr<const RuleSet>> all_rules_;  // under mu_
  const Clock& clock_;
  LimiterOptions options_;
  LocalStore local_;
  std::unique_ptr<RedisStore> redis_;
  std::atomic<std::uint64_t> bypassed_{0};

  // Totals striped over cache lines, so I/O threads do not fight over one counter.
  struct alignas(64) Totals {
    std::atomic<std::uint64_t> total{0}, allowed{0}, refused{0}, redis{0}, local{0};
  };
  std::array<Totals, kStripes> totals_;
  mutable std::mutex mu_;  // recent_, reported_, boxed_until_, events_bucket_
  std::deque<Refusal> recent_;
  std::unordered_map<std::string, std::int64_t, KeyHash, std::equal_to<>> reported_;
  std::unordered_map<std::string, std::int64_t> boxed_until_;  ///< steady ms
  Bucket events_bucket_;
};

}  // namespace evald::ratelimit
