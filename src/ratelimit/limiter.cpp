#include "ratelimit/limiter.hpp"

namespace evald::ratelimit {

Limiter::Limiter(RuleSet rules, std::size_t max_keys)
    : rules_(std::move(rules)), store_(max_keys) {}

Decision Limiter::check(const RequestInfo& req, std::int64_t now_ms) {
  std::vector<Check> checks;
  if (const Rule* r = rules_.per_ip(req.category)) {
    checks.push_back({r, r->name + "|" + req.client_ip});
  }
  if (!req.user_id.empty()) {
    if (const Rule* r = rules_.per_user(req.role))
      checks.push_back({r, r->name + "|" + req.user_id});
  }
  if (const Rule* r = rules_.per_endpoint(req.category)) {
    const std::string who = req.user_id.empty() ? "ip:" + req.client_ip : "user:" + req.user_id;
    checks.push_back({r, r->name + "|" + req.route + "|" + who});
  }
  if (const Rule* r = rules_.global()) checks.push_back({r, r->name});
  Decision d = store_.decide(checks, now_ms);

  std::lock_guard lock(mu_);
  ++stats_.total;
  (d.allowed ? stats_.allowed : stats_.refused)++;
  for (std::size_t i = 0; i < d.outcomes.size(); ++i) {
    const auto& o = d.outcomes[i];
    auto& rs = stats_.rules[o.rule->name];
    if (o.rule->shadow) {
      if (!o.verdict.allowed) ++rs.shadow_refused;
      continue;
    }
    if (static_cast<int>(i) == d.violated) {
      ++rs.refused;
      if (o.blocked) ++rs.penalties;
      recent_.push_front(Refusal{now_ms, o.key, o.rule->name});
      if (recent_.size() > kRecentRefusals) recent_.pop_back();
    } else if (d.allowed) {
      ++rs.allowed;
    }
  }
  return d;
}

std::size_t Limiter::clear(std::string_view scope, std::string_view identifier) {
  std::size_t cleared = 0;
  for (const auto& r : rules_.rules()) {
    if (to_string(r.scope) != scope) continue;
    const std::string key =
        r.scope == Scope::kGlobal ? r.name : r.name + "|" + std::string(identifier);
    if (store_.clear(key)) ++cleared;
  }
  return cleared;
}

LimiterStats Limiter::stats() const {
  std::lock_guard lock(mu_);
  LimiterStats s = stats_;
  s.bypassed = bypassed_.load(std::memory_order_relaxed);
  s.recent.assign(recent_.begin(), recent_.end());
  return s;
}

}  // namespace evald::ratelimit
