#pragma once
/// The rule set: which rules apply to a request, by the route's category, the caller's role,
/// and the scope. The defaults are the original design's numbers.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ratelimit/bucket.hpp"

namespace evald::ratelimit {

/// Stripes of counters: each thread counts in its own cache line.
inline constexpr std::size_t kStripes = 8;
/// This thread's stripe.
std::size_t stripe();

/// Decisions per rule, counted without a lock (or a shared cache line) on the request path.
struct RuleCounters {
  struct alignas(64) Stripe {
    std::atomic<std::uint64_t> allowed{0};
    std::atomic<std::uint64_t> refused{0};
    std::atomic<std::uint64_t> shadow_refused{0};
    std::atomic<std::uint64_t> penalties{0};
  };
  std::array<Stripe, kStripes> stripes;
  Stripe& mine() { return stripes[stripe()]; }
  /// Sums of the stripes: allowed, refused, shadow_refused, penalties.
  std::array<std::uint64_t, 4> sum() const;
};

/// The values of a rule's headers that depend on the rule alone, rendered once.
struct RuleHeaderTexts {
  std::string limit;   ///< X-RateLimit-Limit: the burst
  std::string window;  ///< X-RateLimit-Window: seconds
  std::string policy;  ///< RateLimit-Policy: `<limit>;w=<window>;burst=<burst>;policy="<name>"`
};

class RuleSet {
 public:
  explicit RuleSet(std::vector<Rule> rules);

  /// per_ip:<category>, falling back to per_ip:api for categories without a rule of their own.
  const Rule* per_ip(std::string_view category) const;
  /// per_user:<role>, falling back to per_user:default.
  const Rule* per_user(std::string_view role) const;
  /// per_endpoint:<category>; null when the category has no endpoint rule.
  const Rule* per_endpoint(std::string_view category) const;
  const Rule* global() const;
  const std::vector<Rule>& rules() const { return rules_; }
  const Rule* find(std::string_view name) const;
  /// The counters of a rule of this set (copies of a set share them).
  RuleCounters& counters(const Rule* rule) const {
    return *counters_[static_cast<std::size_t>(rule - rules_.data())];
  }
  /// The header values of a rule of this set.
  const RuleHeaderTexts& header_texts(const Rule* rule) const {
    return texts_[static_cast<std::size_t>(rule - rules_.data())];
  }
  /// Takes over the counters of `older`'s rules of the same name, so that counts run on across
  /// a reload without a gap.
  void share_counters_with(const RuleSet& older);

 private:
  using Index = std::map<std::string, std::size_t, std::less<>>;
  const Rule* lookup(const Index& index, std::string_view key) const;

  std::vector<Rule> rules_;
  // Lookups by category or role without building a name per request.
  Index per_ip_, per_user_, per_endpoint_;
  std::optional<std::size_t> global_;
  std::vector<std::shared_ptr<RuleCounters>> counters_;
  std::vector<RuleHeaderTexts> texts_;
};

/// per IP: login 5/300 s (penalty 900 s), upload 10/60 s, admin 20/60 s, api 60/60 s;
/// per user: 1000/h (evaluator 500/h, admin 2000/h); per endpoint: bulk 5/300 s,
/// export 10/600 s; global 10000/60 s, never a penalty. Burst equals the limit.
RuleSet default_rules();

}  // namespace evald::ratelimit
