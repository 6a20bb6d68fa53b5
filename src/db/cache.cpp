#include "db/cache.hpp"

#include "db/database.hpp"

namespace evald::db {

struct QueryCache::Entry {
  Rows rows;
  Generations generations;
  SteadyTime expires;
  std::list<std::string>::iterator lru_pos;
};

QueryCache::QueryCache(const Clock& clock, std::chrono::seconds ttl, std::size_t max_entries)
    : clock_(clock), ttl_(ttl), max_entries_(max_entries) {}

QueryCache::~QueryCache() = default;

QueryCache::Generations QueryCache::generations_locked(const std::vector<std::string>& tables) {
  Generations g;
  g.reserve(tables.size());
  for (const auto& t : tables) g.push_back(table_generation_[t]);
  return g;
}

QueryCache::Generations QueryCache::generations(const std::vector<std::string>& tables) {
  std::lock_guard lock(mu_);
  return generations_locked(tables);
}

std::optional<Rows> QueryCache::get(const std::string& key,
                                    const std::vector<std::string>& tables) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    ++stats_.misses;
    return std::nullopt;
  }
  Entry& e = *it->second;
  if (clock_.steady_now() >= e.expires) {
    ++stats_.expirations;
    ++stats_.misses;
    lru_.erase(e.lru_pos);
    entries_.erase(it);
    return std::nullopt;
  }
  if (e.generations != generations_locked(tables)) {
    ++stats_.misses;
    lru_.erase(e.lru_pos);
    entries_.erase(it);
    return std::nullopt;
  }
  ++stats_.hits;
  lru_.splice(lru_.begin(), lru_, e.lru_pos);
  return e.rows;
}

void QueryCache::put(const std::string& key, const Rows& rows,
                     const std::vector<std::string>& tables, const Generations& seen) {
  if (!enabled()) return;
  std::lock_guard lock(mu_);
  if (generations_locked(tables) != seen) return;  // written meanwhile: not fresh
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    lru_.erase(it->second->lru_pos);
    entries_.erase(it);
  }
  while (entries_.size() >= max_entries_ && !lru_.empty()) {
    entries_.erase(lru_.back());
    lru_.pop_back();
    ++stats_.evictions;
  }
  lru_.push_front(key);
  auto entry = std::make_unique<Entry>(Entry{rows, seen, clock_.steady_now() + ttl_, lru_.begin()});
  entries_.emplace(key, std::move(entry));
}

void QueryCache::invalidate(const std::vector<std::string>& tables) {
  if (tables.empty()) return;
  std::lock_guard lock(mu_);
  for (const auto& t : tables) ++table_generation_[t];
  ++stats_.invalidations;
}

void QueryCache::clear() {
  std::lock_guard lock(mu_);
  entries_.clear();
  lru_.clear();
}

CacheStats QueryCache::stats() const {
  std::lock_guard lock(mu_);
  CacheStats s = stats_;
  s.entries = entries_.size();
  return s;
}

}  // namespace evald::db
