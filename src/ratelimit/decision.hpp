#pragma once
/// One rate-limit decision over every bucket of a request, as either store gives it.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ratelimit/bucket.hpp"

namespace evald::ratelimit {

class RuleSet;

struct Check {
  const Rule* rule = nullptr;
  std::string key;  ///< the rule's name and the identifier: "per_ip:login|203.0.113.9"
};

struct RuleOutcome {
  const Rule* rule = nullptr;
  std::string key;
  Verdict verdict;
  bool blocked = false;         ///< in the penalty box (before or because of this request)
  std::int64_t blocked_ms = 0;  ///< how long the block still lasts
  bool penalized = false;       ///< this refusal put the key in the box
};

enum class StoreMode { kLocal, kRedis, kFallback };
std::string_view to_string(StoreMode m);

struct Decision {
  bool allowed = true;
  std::vector<RuleOutcome> outcomes;  ///< one per check, same order
  /// The enforced rule closest to its limit (for the X-RateLimit-* headers); -1 when none.
  int tightest = -1;
  /// The first enforced rule that refused; -1 when allowed.
  int violated = -1;
  /// Shadow rules that would have refused.
  std::vector<int> shadow_refusals;
  /// Which store decided.
  StoreMode store = StoreMode::kLocal;
  /// The rules `outcomes` point into (the Limiter keeps every set it has used alive).
  const RuleSet* rules = nullptr;
};

/// Fills `violated`, `shadow_refusals`, `allowed` and `tightest` from the outcomes' verdicts.
void summarize(Decision& d);

}  // namespace evald::ratelimit
