#include "ratelimit/local_store.hpp"

#include <algorithm>
#include <functional>

namespace evald::ratelimit {

LocalStore::LocalStore(std::size_t max_keys)
    : max_per_shard_(std::max<std::size_t>(1, max_keys / kShards)) {}

std::size_t LocalStore::shard_of(const std::string& key) const {
  return std::hash<std::string>{}(key) % kShards;
}

// A bucket that has refilled completely and is not in the box holds no information.
void LocalStore::evict_idle(Shard& s, std::int64_t now_ms) {
  std::erase_if(s.entries, [&](const auto& kv) {
    const Entry& e = kv.second;
    return !blocked(e.penalty, now_ms) && available(e.bucket, *e.rule, now_ms) >= e.rule->burst;
  });
}

Decision LocalStore::decide(const std::vector<Check>& checks, std::int64_t now_ms) {
  std::vector<std::size_t> order;
  for (const auto& c : checks) order.push_back(shard_of(c.key));
  std::vector<std::size_t> locked = order;
  std::sort(locked.begin(), locked.end());
  locked.erase(std::unique(locked.begin(), locked.end()), locked.end());
  std::vector<std::unique_lock<std::mutex>> locks;
  for (auto i : locked) locks.emplace_back(shards_[i].mu);  // a fixed order: no deadlock

  Decision d;
  std::vector<Entry*> entries;
  for (std::size_t i = 0; i < checks.size(); ++i) {
    Shard& s = shards_[order[i]];
    if (s.entries.size() >= max_per_shard_) evict_idle(s, now_ms);
    Entry& e = s.entries[checks[i].key];
    e.rule = checks[i].rule;
    entries.push_back(&e);
    RuleOutcome o;
    o.rule = checks[i].rule;
    o.key = checks[i].key;
    o.verdict = peek(e.bucket, *o.rule, now_ms);
    if (blocked(e.penalty, now_ms)) {
      o.blocked = true;
      o.blocked_ms = e.penalty.blocked_until_ms - now_ms;
      o.verdict.allowed = false;
      o.verdict.retry_ms = std::max(o.verdict.retry_ms, o.blocked_ms);
    }
    if (!o.verdict.allowed) {
      if (o.rule->shadow) {
        d.shadow_refusals.push_back(static_cast<int>(i));
      } else if (d.violated < 0) {
        d.violated = static_cast<int>(i);
        d.allowed = false;
      }
    }
    d.outcomes.push_back(std::move(o));
  }

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
        o.blocked_ms = entries[i]->penalty.blocked_until_ms - now_ms;
        o.verdict.retry_ms = std::max(o.verdict.retry_ms, o.blocked_ms);
      }
    }
  }

  double tightest_ratio = 2;
  for (std::size_t i = 0; i < d.outcomes.size(); ++i) {
    const auto& o = d.outcomes[i];
    if (o.rule->shadow) continue;
    const double ratio = o.blocked ? -1 : o.verdict.remaining / o.rule->burst;
    if (ratio < tightest_ratio) {
      tightest_ratio = ratio;
      d.tightest = static_cast<int>(i);
    }
  }
  return d;
}

bool LocalStore::clear(const std::string& key) {
  Shard& s = shards_[shard_of(key)];
  std::lock_guard lock(s.mu);
  return s.entries.erase(key) > 0;
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
