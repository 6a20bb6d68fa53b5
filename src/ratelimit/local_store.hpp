#pragma once
/// The in-process rate-limit store: buckets and penalties in sharded maps, so that I/O threads
/// rarely contend; one decision checks and updates every bucket of a request under its shards'
/// locks (taken in a fixed order), so a request passes only if every rule allows it and a
/// refused request consumes nothing. Idle buckets are evicted to bound memory.

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "ratelimit/bucket.hpp"

namespace evald::ratelimit {

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
};

struct Decision {
  bool allowed = true;
  std::vector<RuleOutcome> outcomes;  ///< one per check, same order
  /// The enforced rule closest to its limit (for the X-RateLimit-* headers); -1 when none.
  int tightest = -1;
  /// The first enforced rule that refused; -1 when allowed.
  int violated = -1;
  /// Shadow rules that would have refused.
  std::vector<int> shadow_refusals;
};

class LocalStore {
 public:
  explicit LocalStore(std::size_t max_keys = 1'000'000);

  Decision decide(const std::vector<Check>& checks, std::int64_t now_ms);
  /// Forgets the bucket and penalty of a key; true when there was one.
  bool clear(const std::string& key);
  std::size_t size() const;

 private:
  struct Entry {
    Bucket bucket;
    Penalty penalty;
    const Rule* rule = nullptr;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Entry> entries;
  };
  static constexpr std::size_t kShards = 32;
  std::size_t shard_of(const std::string& key) const;
  void evict_idle(Shard& s, std::int64_t now_ms);

  std::size_t max_per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace evald::ratelimit
