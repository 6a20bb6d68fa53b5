#pragma once
/// The rule set: which rules apply to a request, by the route's category, the caller's role,
/// and the scope. The defaults are the original design's numbers.

#include <optional>
#include <string>
#include <vector>

#include "ratelimit/bucket.hpp"

namespace evald::ratelimit {

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

 private:
  std::vector<Rule> rules_;
};

/// per IP: login 5/300 s (penalty 900 s), upload 10/60 s, admin 20/60 s, api 60/60 s;
/// per user: 1000/h (evaluator 500/h, admin 2000/h); per endpoint: bulk 5/300 s,
/// export 10/600 s; global 10000/60 s, never a penalty. Burst equals the limit.
RuleSet default_rules();

}  // namespace evald::ratelimit
