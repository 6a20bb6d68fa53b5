#include "ratelimit/decision.hpp"

#include <algorithm>

namespace evald::ratelimit {

void Checks::add(const Rule* rule, std::initializer_list<std::string_view> parts) {
  std::size_t size = rule->name.size();
  for (auto p : parts) size += 1 + p.size();
  const std::size_t at = text_.size();
  text_.resize(at + size);  // one growth at most, then written in place
  char* out = text_.data() + at;
  out = std::copy(rule->name.begin(), rule->name.end(), out);
  for (auto p : parts) {
    *out++ = '|';
    out = std::copy(p.begin(), p.end(), out);
  }
  items_.push_back({rule, static_cast<std::uint32_t>(at), static_cast<std::uint32_t>(size)});
}

std::string_view to_string(StoreMode m) {
  switch (m) {
    case StoreMode::kLocal:
      return "local";
    case StoreMode::kRedis:
      return "redis";
    case StoreMode::kFallback:
      return "fallback";
  }
  return "";
}

void summarize(Decision& d) {
  d.allowed = true;
  d.violated = -1;
  d.shadow_refusals.clear();
  d.tightest = -1;
  double tightest_ratio = 2;
  for (std::size_t i = 0; i < d.outcomes.size(); ++i) {
    const auto& o = d.outcomes[i];
    if (!o.verdict.allowed) {
      if (o.rule->shadow) {
        d.shadow_refusals.push_back(static_cast<int>(i));
      } else if (d.violated < 0) {
        d.violated = static_cast<int>(i);
        d.allowed = false;
      }
    }
    if (o.rule->shadow) continue;
    const double ratio = o.blocked ? -1 : o.verdict.remaining / o.rule->burst;
    if (ratio < tightest_ratio) {
      tightest_ratio = ratio;
      d.tightest = static_cast<int>(i);
    }
  }
}

}  // namespace evald::ratelimit
