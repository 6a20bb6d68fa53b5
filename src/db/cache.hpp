#pragma once
/// Query result cache: LRU-bounded, TTL-limited, and invalidated at once when this instance
/// commits a write to a table an entry read (per-table generations, so a read that raced a
/// write is never stored as fresh).

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"

namespace evald::db {

struct Rows;

struct CacheStats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t evictions = 0;      ///< pushed out by the size bound
  std::uint64_t invalidations = 0;  ///< table writes that made entries stale
  std::uint64_t expirations = 0;
  std::size_t entries = 0;
};

class QueryCache {
 public:
  QueryCache(const Clock& clock, std::chrono::seconds ttl, std::size_t max_entries);
  ~QueryCache();

  bool enabled() const { return ttl_.count() > 0 && max_entries_ > 0; }

  using Generations = std::vector<std::uint64_t>;
  /// The current generation of each table; take it before running the query.
  Generations generations(const std::vector<std::string>& tables);
  std::optional<Rows> get(const std::string& key, const std::vector<std::string>& tables);
  /// Stores unless one of the tables was written since `seen` was taken.
  void put(const std::string& key, const Rows& rows, const std::vector<std::string>& tables,
           const Generations& seen);
  /// A committed write: every entry that read one of these tables is stale from now on.
  void invalidate(const std::vector<std::string>& tables);
  void clear();
  CacheStats stats() const;

 private:
  struct Entry;
  Generations generations_locked(const std::vector<std::string>& tables);

  const Clock& clock_;
  std::chrono::seconds ttl_;
  std::size_t max_entries_;
  mutable std::mutex mu_;
  std::list<std::string> lru_;  // front = most recent
  std::unordered_map<std::string, std::unique_ptr<Entry>> entries_;
  std::unordered_map<std::string, std::uint64_t> table_generation_;
  CacheStats stats_;
};

}  // namespace evald::db
