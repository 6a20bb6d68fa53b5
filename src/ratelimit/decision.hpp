#pragma once
/// One rate-limit decision over every bucket of a request, as either store gives it.

#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

#include "ratelimit/bucket.hpp"

namespace evald::ratelimit {

class RuleSet;

/// A string hash for maps keyed by std::string that are searched with a string_view, so that a
/// lookup builds no string (C++20 heterogeneous lookup, with std::equal_to<>).
struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view k) const { return std::hash<std::string_view>{}(k); }
};

/// A request has a handful of buckets: kept inline, so a decision allocates nothing.
template <class T>
using Few = boost::container::small_vector<T, 4>;

/// The buckets a request draws from: for each, its rule and its key, the rule's name and the
/// identifier joined by '|' ("per_ip:login|203.0.113.9"). The keys' text lives in one inline
/// buffer, so building them allocates nothing for the usual request.
class Checks {
 public:
  /// Adds a bucket keyed `<rule name>|<part>|<part>...` (the rule's name alone without parts).
  void add(const Rule* rule, std::initializer_list<std::string_view> parts = {});
  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  const Rule* rule(std::size_t i) const { return items_[i].rule; }
  std::string_view key(std::size_t i) const {
    return {text_.data() + items_[i].at, items_[i].size};
  }

 private:
  struct Item {
    const Rule* rule;
    std::uint32_t at, size;  // offsets, not views: a move keeps them valid
  };
  Few<Item> items_;
  boost::container::small_vector<char, 192> text_;
};

struct RuleOutcome {
  const Rule* rule = nullptr;
  Verdict verdict;
  bool blocked = false;         ///< in the penalty box (before or because of this request)
  std::int64_t blocked_ms = 0;  ///< how long the block still lasts
  bool penalized = false;       ///< this refusal put the key in the box
};

enum class StoreMode { kLocal, kRedis, kFallback };
std::string_view to_string(StoreMode m);

struct Decision {
  bool allowed = true;
  Few<RuleOutcome> outcomes;  ///< one per check, same order
  Checks checks;              ///< what was decided: outcome i is for checks' bucket i
  /// The enforced rule closest to its limit (for the X-RateLimit-* headers); -1 when none.
  int tightest = -1;
  /// The first enforced rule that refused; -1 when allowed.
  int violated = -1;
  /// Shadow rules that would have refused.
  Few<int> shadow_refusals;
  /// Which store decided.
  StoreMode store = StoreMode::kLocal;
  /// The rules `outcomes` point into (the Limiter keeps every set it has used alive).
  const RuleSet* rules = nullptr;

  /// The key of outcome i.
  std::string_view key(std::size_t i) const { return checks.key(i); }
};

/// Fills `violated`, `shadow_refusals`, `allowed` and `tightest` from the outcomes' verdicts.
void summarize(Decision& d);

}  // namespace evald::ratelimit
