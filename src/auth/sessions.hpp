#pragma once
/// Server-side sessions. The raw session id (128 random bits) travels only inside the signed
/// access token; the database and every API answer use its SHA-256, the public session id.
/// Checks are cached for at most one second per instance, so a session revoked on another
/// instance stops working within a second while most requests cost no database round trip.

#include <array>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"

namespace evald::auth {

struct SessionRecord {
  std::string session_id;  ///< public id (hash)
  std::string user_id;
  std::string created_at;
  std::string last_activity;
  std::string expires_at;
  std::string ip_address;
  std::string user_agent;
  bool is_active = false;
};

class SessionManager {
 public:
  SessionManager(const Clock& clock, std::chrono::hours idle_timeout,
                 std::chrono::milliseconds cache_ttl = std::chrono::milliseconds(1000));

  static std::string public_id(std::string_view raw_session_id);

  /// Inside the login transaction. Returns the raw id (for the token only).
  Result<std::string> create(db::Tx& tx, std::string_view user_id, std::string_view ip,
                             std::string_view user_agent);

  /// The verdict of a check made less than cache_ttl ago here; nullopt means "ask the database".
  std::optional<bool> cached(const std::string& public_id, const std::string& user_id);
  /// Checks the database (blocking), slides the expiry, and caches the verdict.
  Result<bool> validate(db::Database& db, const std::string& public_id, const std::string& user_id);

  Result<std::vector<SessionRecord>> list(db::Tx& tx, std::string_view user_id);
  Result<std::optional<SessionRecord>> find(db::Tx& tx, std::string_view public_id);
  /// Revokes one session; false when there is no such active session.
  Result<bool> revoke(db::Tx& tx, std::string_view public_id);
  /// Revokes every active session of a user except `keep` (may be empty); returns how many.
  Result<std::int64_t> revoke_all(db::Tx& tx, std::string_view user_id, std::string_view keep);
  /// After a revoking transaction commits: drop this instance's cached verdicts at once.
  void forget(const std::string& public_id);
  void forget_user(const std::string& user_id);

  /// Activity is written at most this often per session (the sliding expiry).
  static constexpr std::chrono::seconds kTouchInterval{60};

 private:
  struct Entry {
    std::string user_id;
    bool valid = false;
    SteadyTime checked{};
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, Entry> entries;
  };
  static constexpr std::size_t kShards = 16;
  static constexpr std::size_t kMaxEntriesPerShard = 50'000;
  Shard& shard(const std::string& key);
  void remember(const std::string& public_id, const std::string& user_id, bool valid);

  const Clock& clock_;
  std::chrono::hours idle_timeout_;
  std::chrono::milliseconds cache_ttl_;
  std::array<Shard, kShards> shards_;
};

}  // namespace evald::auth
