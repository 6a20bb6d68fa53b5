#include "ratelimit/local_store.hpp"

#include <algorithm>
#include <boost/container/small_vector.hpp>
#include <functional>

namespace evald::ratelimit {
namespace {
template <class T>
using Small = boost::container::small_vector<T, 6>;
}  // namespace

LocalStore::LocalStore(std::size_t max_keys)
    : max_per_shard_(std::max<std::size_t>(1, max_keys / kShards)) {}

std::size_t LocalStore::shard_of(const std::string& key) const {
  return std::hash<std::string>{}(key) % kShards;
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

Decision LocalStore::decide(std::vector<Check> checks, std::int64_t now_ms) {
  // A request has a handful of checks: no allocation for the bookkeeping.
  Small<std::size_t> order;
  for (const auto& c : checks) order.push_back(shard_of(c.key));
  Small<std::size_t> locked = order;
  std::sort(locked.begin(), locked.end());
  locked.erase(std::unique(locked.begin(), locked.end()), locked.end());
  Small<std::unique_lock<SpinLock>> locks;
  for (auto i : locked) locks.emplace_back(shards_[i].mu);  // a fixed order: no deadlock

  Decision d;
  d.outcomes.reserve(checks.size());
  Small<Entry*> entries;
  for (std::size_t i = 0; i < checks.size(); ++i) {
    Shard& s = shards_[order[i]];
    if (s.entries.size() >= max_per_shard_) evict_idle(s, now_ms);
    Entry& e = s.entries[checks[i].key];
    e.per_ms = checks[i].rule->per_ms();
    entries.push_back(&e);
    RuleOutcome o;
    o.rule = checks[i].rule;
    o.key = std::move(checks[i].key);
    o.verdict = peek(e.bucket, *o.rule, now_ms);
    if (blocked(e.penalty, now_ms)) {
      o.blocked = true;
      o.blocked_ms = e.penalty.blocked_until_ms - now_ms;
      o.verdict.allowed = false;
      o.verdict.retry_ms = std::max(o.verdict.retry_ms, o.blocked_ms);
    }
    d.outcomes.push_back(std::move(o));
  }
  summarize(d);

  for (std::size_t i = 0; i < checks.size(); ++i) {
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

  summarize(d);  // penalties may have changed which rule is tightest
  return d;
}

bool LocalStore::clear(const std::string& key) {
  Shard& s = shards_[shard_of(key)];
  std::lock_guard lock(s.mu);
  return s.entries.erase(key) > 0;
}

std::size_t LocalStore::clear_prefix(const std::string& prefix) {
  std::size_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard lock(s.mu);
    n += std::erase_if(s.entries, [&](const auto& kv) { return kv.first.starts_with(prefix); });
  }
  return n;
}

std::size_t LocalStore::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.entries.size();
  }
  return n;
}

}  // namespace evald::ratelimit
