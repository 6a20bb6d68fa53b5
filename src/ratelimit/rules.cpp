#include "ratelimit/rules.hpp"

namespace evald::ratelimit {
namespace {

using std::chrono::seconds;

Rule make(std::string name, Scope scope, double limit, seconds window,
          seconds penalty = seconds{0}) {
  Rule r;
  r.name = std::move(name);
  r.scope = scope;
  r.limit = limit;
  r.burst = limit;
  r.window = std::chrono::duration_cast<std::chrono::milliseconds>(window);
  r.penalty = penalty;
  r.penalty_window = window;
  return r;
}

}  // namespace

RuleSet::RuleSet(std::vector<Rule> rules) : rules_(std::move(rules)) {}

const Rule* RuleSet::find(std::string_view name) const {
  for (const auto& r : rules_) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

const Rule* RuleSet::per_ip(std::string_view category) const {
  if (const Rule* r = find("per_ip:" + std::string(category))) return r;
  return find("per_ip:api");
}

const Rule* RuleSet::per_user(std::string_view role) const {
  if (const Rule* r = find("per_user:" + std::string(role))) return r;
  return find("per_user:default");
}

const Rule* RuleSet::per_endpoint(std::string_view category) const {
  return find("per_endpoint:" + std::string(category));
}

const Rule* RuleSet::global() const { return find("global"); }

RuleSet default_rules() {
  return RuleSet({
      make("per_ip:login", Scope::kPerIp, 5, seconds{300}, seconds{900}),
      make("per_ip:upload", Scope::kPerIp, 10, seconds{60}),
      make("per_ip:admin", Scope::kPerIp, 20, seconds{60}),
      make("per_ip:api", Scope::kPerIp, 60, seconds{60}),
      make("per_user:default", Scope::kPerUser, 1000, seconds{3600}),
      make("per_user:evaluator", Scope::kPerUser, 500, seconds{3600}),
      make("per_user:admin", Scope::kPerUser, 2000, seconds{3600}),
      make("per_endpoint:bulk", Scope::kPerEndpoint, 5, seconds{300}),
      make("per_endpoint:export", Scope::kPerEndpoint, 10, seconds{600}),
      make("global", Scope::kGlobal, 10000, seconds{60}),
  });
}

}  // namespace evald::ratelimit
