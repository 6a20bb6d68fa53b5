#pragma once
/// The in-process rate-limit store: buckets and penalties in sharded maps, so that I/O threads
/// rarely contend; one decision checks and updates every bucket of a request under its shards'
/// locks (taken in a fixed order), so a request passes only if every rule allows it and a
/// refused request consumes nothing. Idle buckets are evicted to bound memory.
///
/// The global bucket, which every request on every thread draws from, has a slot of its own:
/// its lock and its state share one cache line, and finding it takes no hashing, so the one
/// line the I/O threads must pass between them is all it costs.

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ratelimit/decision.hpp"

namespace evald::ratelimit {

/// A lock for critical sections of a few hundred nanoseconds: two I/O threads deciding for the
/// same bucket (the global one, always) spin briefly instead of sleeping in the kernel.
class SpinLock {
 public:
  void lock() noexcept {
    while (flag_.exchange(true, std::memory_order_acquire)) {
      while (flag_.load(std::memory_order_relaxed)) __builtin_ia32_pause();
    }
  }
  bool try_lock() noexcept { return !flag_.exchange(true, std::memory_order_acquire); }
  void unlock() noexcept { flag_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> flag_{false};
};

class LocalStore {
 public:
  explicit LocalStore(std::size_t max_keys = 1'000'000);

  /// The decision over every bucket of `d.checks`, written into `d` (its outcomes, verdict and
  /// tightest rule): a request's decision is made where it will be read, not copied there.
  void decide(Decision& d, std::int64_t now_ms);
  /// The same for `checks` (which move into the decision).
  Decision decide(Checks checks, std::int64_t now_ms);
  /// Forgets the bucket and penalty of a key; true when there was one.
  bool clear(const std::string& key);
  /// Forgets every key that begins with `prefix`; how many.
  std::size_t clear_prefix(const std::string& prefix);
  std::size_t size() const;

 private:
  struct Entry {
    Bucket bucket;
    Penalty penalty;
    double per_ms = 0;  ///< the rule's refill when last used, for eviction
  };
  struct alignas(64) Shard {
    mutable SpinLock mu;
    std::unordered_map<std::string, Entry, KeyHash, std::equal_to<>> entries;
  };
  // The bucket of the global rule, under the rule's name: after a reload, a global rule of
  // another name starts from a full bucket, as it would under a new key.
  struct alignas(64) Global {
    mutable SpinLock mu;
    bool used = false;
    Entry entry;
    std::string name;  // read-only while in use: its line is shared, not passed around
  };
  static constexpr std::size_t kShards = 32;
  static std::size_t shard_of(std::string_view key);
  void evict_idle(Shard& s, std::int64_t now_ms);
  Entry& global_entry(std::string_view name);  // under global_.mu
  /// Forgets the global bucket when its name is `text` (or begins with it); true when it did.
  bool forget_global(std::string_view text, bool as_prefix);

  std::size_t max_per_shard_;
  std::array<Shard, kShards> shards_;
  Global global_;
};

}  // namespace evald::ratelimit
