#include "ratelimit/local_store.hpp"

#include <algorithm>
#include <functional>

namespace evald::ratelimit {

LocalStore::LocalStore(std::size_t max_keys)
    : max_per_shard_(std::max<std::size_t>(1, max_keys / kShards)) {}

std::size_t LocalStore::shard_of(std::string_view key) {
  return std::hash<std::string_view>{}(key) % kShards;
}

// A bucket that has refilled completely and is not in the box holds no information.
void LocalStore::evict_idle(Shard& s, std::int64_t now_ms) {
  std::erase_if(s.entries, [&](const auto& kv) {
    const Entry& e = kv.second;
    if (blocked(e.penalty, now_ms)) return false;
    const double elapsed = static_cast<double>(now_ms - e.bucket.updated_ms);
    return e.bucket.used - elapsed * e.per_ms <= 0;
  });
}

LocalStore::Entry& LocalStore::global_entry(std::string_view name) {
  if (!global_.used || global_.name != name) {
    global_.used = true;
    global_.name = name;
    global_.entry = Entry{};
  }
  return global_.entry;
}

Decision LocalStore::decide(Checks checks, std::int64_t now_ms) {
  Decision d;
  d.checks = std::move(checks);
  decide(d, now_ms);
  return d;
}

void LocalStore::decide(Decision& d, std::int64_t now_ms) {
  const Checks& checks = d.checks;
  // A request has a handful of checks: no allocation for the bookkeeping. The shards' locks
  // are taken in ascending order, the global bucket's last: a fixed order, so no deadlock.
  constexpr std::size_t kGlobal = kShards;
  Few<std::size_t> where;
  for (std::size_t i = 0; i < checks.size(); ++i) {
    where.push_back(checks.rule(i)->scope == Scope::kGlobal ? kGlobal : shard_of(checks.key(i)));
  }
  Few<std::size_t> locked = where;
  std::sort(locked.begin(), locked.end());
  locked.erase(std::unique(locked.begin(), locked.end()), locked.end());
  Few<std::unique_lock<SpinLock>> locks;
  for (auto i : locked) locks.emplace_back(i == kGlobal ? global_.mu : shards_[i].mu);

  // Evictions first: one during the lookups could free an entry an earlier check just found.
  for (auto i : locked) {
    if (i != kGlobal && shards_[i].entries.size() >= max_per_shard_) evict_idle(shards_[i], now_ms);
  }

  d.outcomes.clear();
  Few<Entry*> entries;
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const Rule& rule = *checks.rule(i);
    const std::string_view key = checks.key(i);
    Entry* e = nullptr;
    if (where[i] == kGlobal) {
      e = &global_entry(key);
    } else {
      Shard& s = shards_[where[i]];
      auto it = s.entries.find(key);
      if (it == s.entries.end()) it = s.entries.emplace(std::string(key), Entry{}).first;
      e = &it->second;  // nodes are stable: later insertions leave this pointer valid
    }
    e->per_ms = rule.per_ms();
    entries.push_back(e);
    RuleOutcome o;
    o.rule = &rule;
    o.verdict = peek(e->bucket, rule, now_ms);
    // A rule without a penalty has no box (as in the Redis store, which keeps none for it).
    if (rule.penalty.count() > 0 && blocked(e->penalty, now_ms)) {
      o.blocked = true;
      o.blocked_ms = e->penalty.blocked_until_ms - now_ms;
      o.verdict.allowed = false;
      o.verdict.retry_ms = std::max(o.verdict.retry_ms, o.blocked_ms);
    }
    d.outcomes.push_back(o);
  }
  summarize(d);

  for (std::size_t i = 0; i < d.outcomes.size(); ++i) {
    RuleOutcome& o = d.outcomes[i];
    if (d.allowed && o.verdict.allowed) {
      commit(entries[i]->bucket, *o.rule, now_ms);
    } else if (o.verdict.allowed) {
      // Refused by another rule: nothing was taken from this bucket.
      o.verdict.remaining = available(entries[i]->bucket, *o.rule, now_ms);
    } else if (!d.allowed && !o.verdict.allowed && !o.rule->shadow && !o.blocked) {
      // Only the refusing rules count towards their penalty box.
      if (count_refusal(entries[i]->penalty, *o.rule, now_ms)) {
        o.blocked = true;
        o.penalized = true;
        o.blocked_ms = entries[i]->penalty.blocked_until_ms - now_ms;
        o.verdict.retry_ms = std::max(o.verdict.retry_ms, o.blocked_ms);
      }
    }
  }
  locks.clear();

  // A refusal changes the numbers: the other rules keep their token, and a new block makes its
  // rule the tightest. (An allowed request's stand as summarized.)
  if (!d.allowed) summarize(d);
}

bool LocalStore::forget_global(std::string_view text, bool as_prefix) {
  std::lock_guard lock(global_.mu);
  if (!global_.used || !(as_prefix ? global_.name.starts_with(text) : global_.name == text)) {
    return false;
  }
  global_.used = false;
  global_.entry = Entry{};
  return true;
}

bool LocalStore::clear(const std::string& key) {
  if (forget_global(key, false)) return true;
  Shard& s = shards_[shard_of(key)];
  std::lock_guard lock(s.mu);
  return s.entries.erase(key) > 0;
}

std::size_t LocalStore::clear_prefix(const std::string& prefix) {
  std::size_t n = forget_global(prefix, true) ? 1 : 0;
  for (auto& s : shards_) {
    std::lock_guard lock(s.mu);
    n += std::erase_if(s.entries, [&](const auto& kv) { return kv.first.starts_with(prefix); });
  }
  return n;
}

std::size_t LocalStore::size() const {
  std::size_t n = 0;
  {
    std::lock_guard lock(global_.mu);
    n += global_.used ? 1 : 0;
  }
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.entries.size();
  }
  return n;
}

}  // namespace evald::ratelimit
