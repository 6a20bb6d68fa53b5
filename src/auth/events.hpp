#pragma once
/// The security event log (OWASP logging vocabulary names). Never a password, token or code.

#include <optional>
#include <string>

#include "core/result.hpp"
#include "db/database.hpp"

namespace evald::auth {

struct SecurityEvent {
  std::string type;  ///< authn_login_success, authn_login_fail, authz_fail, session_revoked, ...
  std::string user_id;
  std::string login_id;
  std::string ip_address;
  std::string user_agent;
  std::string request_id;
  std::string details;  ///< short, non-secret context ("wrong password", "locked")
};

Status record_event(db::Tx& tx, const SecurityEvent& e, std::string_view now);

}  // namespace evald::auth
