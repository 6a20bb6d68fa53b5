#include "auth/lockout.hpp"

#include "core/time_format.hpp"

namespace evald::auth {

Result<LockoutStatus> Lockout::status(db::Tx& tx, std::string_view login_id) const {
  auto rows = tx.query(
      "SELECT failed_attempts, window_started_at, locked_until FROM login_lockouts "
      "WHERE login_id = $1",
      {std::string(login_id)});
  if (!rows) return std::move(rows).error();
  LockoutStatus s;
  s.remaining_attempts = max_;
  if (rows->empty()) return s;
  const std::string now = format_iso8601(clock_.now(), true);
  const std::string window_start = format_iso8601(clock_.now() - duration_, true);
  const std::string locked_until = rows->text(0, "locked_until");
  if (!locked_until.empty() && locked_until > now) {
    s.is_locked = true;
    s.lockout_until = locked_until;
    s.failed_attempts = static_cast<unsigned>(rows->integer(0, "failed_attempts"));
    s.remaining_attempts = 0;
    return s;
  }
  const std::string started = rows->text(0, "window_started_at");
  if (!started.empty() && started >= window_start && locked_until.empty()) {
    s.failed_attempts = static_cast<unsigned>(rows->integer(0, "failed_attempts"));
    s.remaining_attempts = s.failed_attempts >= max_ ? 0 : max_ - s.failed_attempts;
  }
  return s;
}

Result<LockoutStatus> Lockout::record_failure(db::Tx& tx, std::string_view login_id) const {
  const std::string now = format_iso8601(clock_.now(), true);
  const std::string window_start = format_iso8601(clock_.now() - duration_, true);
  // One atomic statement: a new window starts when the old one ended or a lock expired.
  auto rows = tx.query(
      "INSERT INTO login_lockouts (login_id, failed_attempts, window_started_at, locked_until, "
      "updated_at) VALUES ($1, 1, $2, NULL, $2) "
      "ON CONFLICT (login_id) DO UPDATE SET "
      "failed_attempts = CASE WHEN login_lockouts.window_started_at IS NULL "
      "  OR login_lockouts.window_started_at < $3 OR login_lockouts.locked_until IS NOT NULL "
      "  THEN 1 ELSE login_lockouts.failed_attempts + 1 END, "
      "window_started_at = CASE WHEN login_lockouts.window_started_at IS NULL "
      "  OR login_lockouts.window_started_at < $3 OR login_lockouts.locked_until IS NOT NULL "
      "  THEN $2 ELSE login_lockouts.window_started_at END, "
      "locked_until = NULL, updated_at = $2 "
      "RETURNING failed_attempts",
      {std::string(login_id), now, window_start});
  if (!rows) return std::move(rows).error();
  LockoutStatus s;
  s.failed_attempts = static_cast<unsigned>(rows->integer(0, "failed_attempts"));
  if (s.failed_attempts >= max_) {
    const std::string until = format_iso8601(clock_.now() + duration_, true);
    auto locked = tx.exec("UPDATE login_lockouts SET locked_until = $1 WHERE login_id = $2",
                          {until, std::string(login_id)});
    if (!locked) return std::move(locked).error();
    s.is_locked = true;
    s.lockout_until = until;
    s.remaining_attempts = 0;
  } else {
    s.remaining_attempts = max_ - s.failed_attempts;
  }
  return s;
}

Status Lockout::reset(db::Tx& tx, std::string_view login_id) const {
  auto r = tx.exec("DELETE FROM login_lockouts WHERE login_id = $1", {std::string(login_id)});
  if (!r) return std::move(r).error();
  return Ok{};
}

}  // namespace evald::auth
