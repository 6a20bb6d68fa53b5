#include "ratelimit/limiter.hpp"

#include <algorithm>

#include "log/log.hpp"

namespace evald::ratelimit {
namespace {

// Refusal events overall: ten a second, bursts of fifty.
Rule events_rule() {
  Rule r;
  r.name = "refusal-events";
  r.limit = 10;
  r.window = std::chrono::milliseconds(1000);
  r.burst = 50;
  return r;
}
const Rule kEventsRule = events_rule();

}  // namespace

Checks checks_for(const RuleSet& rules, const RequestInfo& req) {
  Checks checks;
  if (const Rule* r = rules.per_ip(req.category)) checks.add(r, {req.client_ip});
  if (!req.user_id.empty()) {
    if (const Rule* r = rules.per_user(req.role)) checks.add(r, {req.user_id});
  }
  if (const Rule* r = rules.per_endpoint(req.category)) {
    // Keyed by who first, so that an admin clear of one user or IP finds all its endpoints.
    const std::string_view who = req.user_id.empty() ? req.client_ip : req.user_id;
    checks.add(r, {who, req.route});
  }
  if (const Rule* r = rules.global()) checks.add(r);
  return checks;
}

Limiter::Limiter(RuleSet rules, const Clock& clock, LimiterOptions options)
    : clock_(clock), options_(std::move(options)), local_(options_.max_keys) {
  if (options_.redis) redis_ = std::make_unique<RedisStore>(*options_.redis);
  all_rules_.push_back(std::make_shared<const RuleSet>(std::move(rules)));
  rules_.store(all_rules_.back().get());
}

std::shared_ptr<const RuleSet> Limiter::rules() const {
  std::lock_guard lock(mu_);
  return all_rules_.back();
}

Limiter::~Limiter() { stop(); }

void Limiter::start() {
  if (redis_) redis_->start();
}

void Limiter::stop() {
  if (redis_) redis_->stop();
}

std::int64_t Limiter::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             clock_.steady_now().time_since_epoch())
      .count();
}

StoreMode Limiter::mode() const {
  if (!redis_) return StoreMode::kLocal;
  return redis_->available() ? StoreMode::kRedis : StoreMode::kFallback;
}

void Limiter::check_local(const RequestInfo& request, Decision& d) {
  const RuleSet* rules = rules_.load(std::memory_order_acquire);
  d.checks = checks_for(*rules, request);
  local_.decide(d, now_ms());
  d.store = redis_ ? StoreMode::kFallback : StoreMode::kLocal;
  d.rules = rules;
  record(d, request);
}

boost::asio::awaitable<Decision> Limiter::check(const RequestInfo& request) {
  if (!redis_active()) co_return check_local(request);
  const RuleSet* rules = rules_.load(std::memory_order_acquire);
  auto checks = checks_for(*rules, request);
  auto shared = co_await redis_->decide(checks);
  Decision d;
  if (shared) {
    d = std::move(*shared);
    d.checks = std::move(checks);
  } else {
    d = local_.decide(std::move(checks), now_ms());
    d.store = StoreMode::kFallback;
  }
  d.rules = rules;
  record(d, request);
  co_return d;
}

void Limiter::record(const Decision& d, const RequestInfo& request) {
  constexpr auto relaxed = std::memory_order_relaxed;
  auto& totals = totals_[stripe()];
  totals.total.fetch_add(1, relaxed);
  (d.allowed ? totals.allowed : totals.refused).fetch_add(1, relaxed);
  (d.store == StoreMode::kRedis ? totals.redis : totals.local).fetch_add(1, relaxed);
  for (std::size_t i = 0; i < d.outcomes.size(); ++i) {
    const auto& o = d.outcomes[i];
    auto& counters = d.rules->counters(o.rule).mine();
    if (o.rule->shadow) {
      if (o.verdict.allowed) {
        counters.allowed.fetch_add(1, relaxed);
      } else {
        counters.shadow_refused.fetch_add(1, relaxed);
        if (should_report("shadow|" + std::string(d.key(i)))) {
          log::get("ratelimit")
              ->info("{}", log::Line("shadow rule would refuse")
                               .kv("rule", o.rule->name)
                               .kv("key", d.key(i))
                               .kv("route", request.route));
        }
      }
      continue;
    }
    if (d.allowed) {
      counters.allowed.fetch_add(1, relaxed);
      continue;
    }
    if (!o.verdict.allowed) counters.refused.fetch_add(1, relaxed);
    if (!o.penalized && static_cast<int>(i) != d.violated) continue;
    std::lock_guard lock(mu_);
    if (o.penalized) {
      // Every rule that boxed its key counts, not only the first that refused.
      counters.penalties.fetch_add(1, relaxed);
      if (boxed_until_.size() >= 100'000) boxed_until_.clear();
      boxed_until_[std::string(d.key(i))] = now_ms() + o.blocked_ms;
    }
    if (static_cast<int>(i) == d.violated) {
      const auto wall =
          std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now().time_since_epoch())
              .count();
      recent_.push_front(Refusal{wall, std::string(d.key(i)), o.rule->name,
                                 std::string(request.client_ip), std::string(request.route),
                                 o.blocked});
      if (recent_.size() > kRecentRefusals) recent_.pop_back();
    }
  }
}

bool Limiter::should_report(std::string_view key) {
  const auto now = now_ms();
  std::lock_guard lock(mu_);
  auto it = reported_.find(key);
  if (it != reported_.end() && now - it->second < options_.event_interval.count()) return false;
  if (!peek(events_bucket_, kEventsRule, now).allowed) return false;
  commit(events_bucket_, kEventsRule, now);
  if (reported_.size() >= 10'000) {
    std::erase_if(reported_, [&](const auto& kv) {
      return now - kv.second >= options_.event_interval.count();
    });
    if (reported_.size() >= 10'000) reported_.clear();
  }
  reported_.insert_or_assign(std::string(key), now);  // (rare: a refusal being reported)
  return true;
}

boost::asio::awaitable<std::optional<std::size_t>> Limiter::clear(std::string scope,
                                                                  std::string identifier) {
  const RuleSet* rules = rules_.load(std::memory_order_acquire);
  std::vector<std::string> keys;
  std::vector<std::string> prefixes;
  for (const auto& r : rules->rules()) {
    if (to_string(r.scope) != scope) continue;
    if (r.scope == Scope::kGlobal) {
      keys.push_back(r.name);
    } else if (r.scope == Scope::kPerEndpoint) {
      prefixes.push_back(r.name + "|" + identifier + "|");
    } else {
      keys.push_back(r.name + "|" + identifier);
    }
  }
  std::size_t cleared = 0;
  {
    std::lock_guard lock(mu_);
    std::erase_if(boxed_until_, [&](const auto& kv) {
      for (const auto& k : keys) {
        if (kv.first == k) return true;
      }
      for (const auto& p : prefixes) {
        if (kv.first.starts_with(p)) return true;
      }
      return false;
    });
  }
  for (const auto& k : keys) cleared += local_.clear(k) ? 1 : 0;
  for (const auto& p : prefixes) cleared += local_.clear_prefix(p);
  if (redis_) {
    // Redis down: the shared buckets would come back with it uncleared; say so.
    if (!redis_->available()) co_return std::nullopt;
    auto shared = co_await redis_->clear(keys, prefixes);
    if (!shared) co_return std::nullopt;
    cleared += *shared;
  }
  co_return cleared;
}

void Limiter::reload(RuleSet rules) {
  std::lock_guard lock(mu_);
  rules.share_counters_with(*all_rules_.back());
  all_rules_.push_back(std::make_shared<const RuleSet>(std::move(rules)));
  rules_.store(all_rules_.back().get(), std::memory_order_release);
}

LimiterStats Limiter::stats() const {
  LimiterStats s;
  const auto now = now_ms();
  for (const auto& t : totals_) {
    s.total += t.total.load();
    s.allowed += t.allowed.load();
    s.refused += t.refused.load();
    s.redis_decisions += t.redis.load();
    s.local_decisions += t.local.load();
  }
  const RuleSet* rules = rules_.load(std::memory_order_acquire);
  for (const auto& r : rules->rules()) {
    const auto c = rules->counters(&r).sum();
    s.rules[r.name] = RuleStats{c[0], c[1], c[2], c[3]};
  }
  {
    std::lock_guard lock(mu_);
    s.recent.assign(recent_.begin(), recent_.end());
    s.penalties_active = static_cast<std::size_t>(std::count_if(
        boxed_until_.begin(), boxed_until_.end(), [&](const auto& kv) { return kv.second > now; }));
  }
  s.bypassed = bypassed_.load(std::memory_order_relaxed);
  s.mode = mode();
  if (redis_) s.redis = redis_->status();
  s.local_keys = local_.size();
  return s;
}

}  // namespace evald::ratelimit
