#include "auth/events.hpp"

#include "core/ids.hpp"

namespace evald::auth {

Status record_event(db::Tx& tx, const SecurityEvent& e, std::string_view now) {
  auto opt = [](const std::string& s) { return s.empty() ? db::null() : db::Value(s); };
  // A user agent is the client's to choose: keep it bounded.
  const std::string ua = e.user_agent.substr(0, 512);
  auto r = tx.exec(
      "INSERT INTO security_events (id, event_type, user_id, login_id, ip_address, user_agent, "
      "request_id, details, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
      {new_uuid(), e.type, opt(e.user_id), opt(e.login_id.substr(0, 255)), opt(e.ip_address),
       opt(ua), opt(e.request_id), opt(e.details), std::string(now)});
  if (!r) return std::move(r).error();
  return Ok{};
}

}  // namespace evald::auth
