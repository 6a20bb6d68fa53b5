#include "auth/sessions.hpp"

#include "core/ids.hpp"
#include "core/time_format.hpp"
#include "log/log.hpp"

namespace evald::auth {
namespace {

constexpr const char* kColumns =
    "id_hash, user_id, created_at, last_activity, expires_at, ip_address, user_agent, revoked_at";

SessionRecord record_at(const db::Rows& rows, std::size_t i, const std::string& now) {
  SessionRecord r;
  r.session_id = rows.text(i, "id_hash");
  r.user_id = rows.text(i, "user_id");
  r.created_at = rows.text(i, "created_at");
  r.last_activity = rows.text(i, "last_activity");
  r.expires_at = rows.text(i, "expires_at");
  r.ip_address = rows.text(i, "ip_address");
  r.user_agent = rows.text(i, "user_agent");
  r.is_active = rows.null_at(i, "revoked_at") && r.expires_at > now;
  return r;
}

}  // namespace

SessionManager::SessionManager(const Clock& clock, std::chrono::hours idle_timeout,
                               std::chrono::milliseconds cache_ttl)
    : clock_(clock), idle_timeout_(idle_timeout), cache_ttl_(cache_ttl) {}

std::string SessionManager::public_id(std::string_view raw) { return sha256_hex(raw); }

Result<std::string> SessionManager::create(db::Tx& tx, std::string_view user_id,
                                           std::string_view ip, std::string_view user_agent) {
  std::string raw = random_token_hex(16);
  const auto now = clock_.now();
  const std::string ts = format_iso8601(now, true);
  auto r = tx.exec(
      "INSERT INTO sessions (id_hash, user_id, created_at, last_activity, expires_at, "
      "ip_address, user_agent) VALUES ($1, $2, $3, $3, $4, $5, $6)",
      {public_id(raw), std::string(user_id), ts, format_iso8601(now + idle_timeout_, true),
       std::string(ip), std::string(user_agent.substr(0, 512))});
  if (!r) return std::move(r).error();
  return raw;
}

SessionManager::Shard& SessionManager::shard(const std::string& key) {
  return shards_[std::hash<std::string>{}(key) % kShards];
}

std::optional<bool> SessionManager::cached(const std::string& id, const std::string& user_id) {
  auto& s = shard(id);
  std::lock_guard lock(s.mu);
  auto it = s.entries.find(id);
  if (it == s.entries.end()) return std::nullopt;
  if (clock_.steady_now() - it->second.checked >= cache_ttl_) {
    s.entries.erase(it);
    return std::nullopt;
  }
  return it->second.valid && it->second.user_id == user_id;
}

void SessionManager::remember(const std::string& id, const std::string& user_id, bool valid) {
  auto& s = shard(id);
  std::lock_guard lock(s.mu);
  if (s.entries.size() >= kMaxEntriesPerShard) s.entries.clear();
  s.entries[id] = Entry{user_id, valid, clock_.steady_now()};
}

Result<bool> SessionManager::validate(db::Database& db, const std::string& id,
                                      const std::string& user_id) {
  const auto now_tp = clock_.now();
  const std::string now = format_iso8601(now_tp, true);
  auto rows = db.query(
      "SELECT user_id, last_activity, expires_at, revoked_at FROM sessions "
      "WHERE id_hash = $1",
      {id});
  if (!rows) return std::move(rows).error();
  bool valid = !rows->empty() && rows->text(0, "user_id") == user_id &&
               rows->null_at(0, "revoked_at") && rows->text(0, "expires_at") > now;
  if (valid && rows->text(0, "last_activity") <
                   format_iso8601(now_tp - std::chrono::seconds(kTouchInterval), true)) {
    // Sliding expiry, written at most once a minute per session; only while still active.
    auto touched = db.write([&](db::Tx& tx) -> Status {
      auto r = tx.exec(
          "UPDATE sessions SET last_activity = $1, expires_at = $2 "
          "WHERE id_hash = $3 AND revoked_at IS NULL AND expires_at > $1",
          {now, format_iso8601(now_tp + idle_timeout_, true), id});
      if (!r) return std::move(r).error();
      valid = *r == 1;
      return Ok{};
    });
    if (!touched) {
      // The read above found the session valid; a write that cannot be made now (the disk
      // full, say) must not turn every read into a failure. The expiry slides next time.
      log::get("auth")->warn(
          "{}",
          log::Line("session activity not recorded").kv("error", touched.error().internal_detail));
    }
  }
  remember(id, user_id, valid);
  return valid;
}

Result<std::vector<SessionRecord>> SessionManager::list(db::Tx& tx, std::string_view user_id) {
  auto rows = tx.query(std::string("SELECT ") + kColumns +
                           " FROM sessions WHERE user_id = $1 ORDER BY created_at DESC",
                       {std::string(user_id)});
  if (!rows) return std::move(rows).error();
  const std::string now = format_iso8601(clock_.now(), true);
  std::vector<SessionRecord> out;
  for (std::size_t i = 0; i < rows->size(); ++i) out.push_back(record_at(*rows, i, now));
  return out;
}

Result<std::optional<SessionRecord>> SessionManager::find(db::Tx& tx, std::string_view id) {
  auto rows = tx.query(std::string("SELECT ") + kColumns + " FROM sessions WHERE id_hash = $1",
                       {std::string(id)});
  if (!rows) return std::move(rows).error();
  if (rows->empty()) return std::optional<SessionRecord>{};
  return std::optional<SessionRecord>(record_at(*rows, 0, format_iso8601(clock_.now(), true)));
}

Result<bool> SessionManager::revoke(db::Tx& tx, std::string_view id) {
  auto r = tx.exec("UPDATE sessions SET revoked_at = $1 WHERE id_hash = $2 AND revoked_at IS NULL",
                   {format_iso8601(clock_.now(), true), std::string(id)});
  if (!r) return std::move(r).error();
  return *r > 0;
}

Result<std::int64_t> SessionManager::revoke_all(db::Tx& tx, std::string_view user_id,
                                                std::string_view keep) {
  return tx.exec(
      "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL "
      "AND id_hash <> $3",
      {format_iso8601(clock_.now(), true), std::string(user_id), std::string(keep)});
}

void SessionManager::forget(const std::string& id) {
  auto& s = shard(id);
  std::lock_guard lock(s.mu);
  s.entries.erase(id);
}

void SessionManager::forget_user(const std::string& user_id) {
  for (auto& s : shards_) {
    std::lock_guard lock(s.mu);
    std::erase_if(s.entries, [&](const auto& kv) { return kv.second.user_id == user_id; });
  }
}

}  // namespace evald::auth
