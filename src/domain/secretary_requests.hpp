#pragma once
/// Secretary sign-up (public) and its approval by an admin (docs/DOMAIN.md). A request is stored
/// whether or not its login id or email is taken, so that the answer tells nobody which accounts
/// exist; a taken one is simply not approvable (409). The password's hash waits in the request
/// and moves to the new user on approval; a decided request keeps no hash. Every call blocks:
/// run it on the worker pool.

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/users.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"
#include "domain/users_admin.hpp"

namespace evald::domain {

struct SignupInput {
  std::string name;
  std::string login_id;
  std::string email;  ///< lower case
  std::string phone;
  std::string reason;
  std::string password;
};

struct SecretaryRequest {
  std::string id;
  std::string name;
  std::string login_id;
  std::string email;
  std::string phone;
  std::string reason;
  std::string status;  ///< pending, approved, rejected
  std::string created_at;
  std::string decided_by;
  std::string decided_at;
  std::string decision_reason;
};

/// The public view (never the password hash).
boost::json::object secretary_request_json(const SecretaryRequest& r);
/// Requests of a list query's rows (at most `max`).
std::vector<SecretaryRequest> secretary_requests_from_rows(const db::Rows& rows, std::size_t max);
/// The status filter's condition (none when absent).
std::vector<Condition> secretary_request_conditions(const std::optional<std::string>& status);

class SecretaryRequests {
 public:
  SecretaryRequests(db::Database& db, const Clock& clock) : db_(db), clock_(clock) {}

  /// Hashes the password (argon2id) and stores a pending request; the same work whether or not
  /// the login id or email is taken.
  Status submit(const SignupInput& in, const auth::ClientInfo& client);
  Result<db::Rows> list(const std::string& where_sql, const db::Params& params,
                        const std::string& tail);
  /// Creates the secretary (the request's name, login id, email, phone and password). 404 for an
  /// unknown id; 409 when already decided, or when the login id or email is taken by now.
  Result<auth::User> approve(std::string_view id, const Audit& audit);
  /// 404 for an unknown id; 409 when already decided.
  Result<SecretaryRequest> reject(std::string_view id, const std::optional<std::string>& reason,
                                  const Audit& audit);

 private:
  std::string now() const;

  db::Database& db_;
  const Clock& clock_;
};

}  // namespace evald::domain
