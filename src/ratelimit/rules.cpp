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

RuleHeaderTexts header_texts_of(const Rule& r) {
  const auto window = std::chrono::duration_cast<std::chrono::seconds>(r.window).count();
  RuleHeaderTexts t;
  t.limit = std::to_string(static_cast<long long>(r.burst));
  t.window = std::to_string(window);
  // draft-ietf-httpapi-ratelimit-headers-07
  t.policy = std::to_string(static_cast<long long>(r.limit)) + ";w=" + t.window +
             ";burst=" + t.limit + ";policy=\"" + r.name + '"';
  return t;
}

}  // namespace

std::size_t stripe() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t mine = next.fetch_add(1, std::memory_order_relaxed) % kStripes;
  return mine;
}

std::array<std::uint64_t, 4> RuleCounters::sum() const {
  std::array<std::uint64_t, 4> out{};
  for (const auto& s : stripes) {
    out[0] += s.allowed.load(std::memory_order_relaxed);
    out[1] += s.refused.load(std::memory_order_relaxed);
    out[2] += s.shadow_refused.load(std::memory_order_relaxed);
    out[3] += s.penalties.load(std::memory_order_relaxed);
  }
  return out;
}

RuleSet::RuleSet(std::vector<Rule> rules) : rules_(std::move(rules)) {
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    counters_.push_back(std::make_shared<RuleCounters>());
    texts_.push_back(header_texts_of(rules_[i]));
    const auto& name = rules_[i].name;
    const auto colon = name.find(':');
    const std::string match = colon == std::string::npos ? "" : name.substr(colon + 1);
    switch (rules_[i].scope) {
      case Scope::kPerIp:
        per_ip_.emplace(match, i);
        break;
      case Scope::kPerUser:
        per_user_.emplace(match, i);
        break;
      case Scope::kPerEndpoint:
        per_endpoint_.emplace(match, i);
        break;
      case Scope::kGlobal:
        global_ = i;
        break;
    }
  }
}

void RuleSet::share_counters_with(const RuleSet& older) {
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    if (const Rule* old = older.find(rules_[i].name)) {
      counters_[i] = older.counters_[static_cast<std::size_t>(old - older.rules_.data())];
    }
  }
}

const Rule* RuleSet::lookup(const Index& index, std::string_view key) const {
  auto it = index.find(key);
  return it == index.end() ? nullptr : &rules_[it->second];
}

const Rule* RuleSet::find(std::string_view name) const {
  for (const auto& r : rules_) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

const Rule* RuleSet::per_ip(std::string_view category) const {
  if (const Rule* r = lookup(per_ip_, category)) return r;
  return lookup(per_ip_, "api");
}

const Rule* RuleSet::per_user(std::string_view role) const {
  if (const Rule* r = lookup(per_user_, role)) return r;
  return lookup(per_user_, "default");
}

const Rule* RuleSet::per_endpoint(std::string_view category) const {
  return lookup(per_endpoint_, category);
}

const Rule* RuleSet::global() const { return global_ ? &rules_[*global_] : nullptr; }

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
