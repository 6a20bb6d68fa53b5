#pragma once
/// Users as staff manage them (docs/DOMAIN.md: Users, Evaluators): an admin creates, reads,
/// updates and deactivates any user; staff create evaluators, one at a time or in a batch, with
/// a password or with an invitation mail (a single-use link to choose one). Every call blocks
/// (database, argon2id): run it on the worker pool.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/service.hpp"
#include "auth/users.hpp"
#include "config/settings.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"
#include "domain/domain.hpp"

namespace evald::domain {

/// One condition of a list's WHERE clause: `sql` with one "?" per value, in order.
struct Condition {
  std::string sql;
  std::vector<db::Value> values;
};

/// Who acts, and from where (for the security events).
struct Audit {
  Actor actor;
  auth::ClientInfo client;
};

/// 3 to 64 characters: ASCII letters, digits, '.', '_', '-' and '@', beginning with a letter or
/// a digit (no look-alike or invisible characters in what people sign in with).
bool is_valid_login_id(std::string_view s);
/// 3 to 20 characters: digits, spaces, '+', '-', '(' and ')', at least 3 of them digits.
bool is_valid_phone(std::string_view s);
/// True when the text holds a C0 control character or DEL; `allow_newlines` lets \n, \r, \t pass.
bool has_control_chars(std::string_view s, bool allow_newlines = false);

/// At most this many items of one evaluator batch may carry a password: each costs an argon2id
/// hash (about 18 ms and 19 MiB); the others are invited by mail.
inline constexpr std::size_t kMaxHashedPerBatch = 100;
/// At most this many evaluators in one batch.
inline constexpr std::size_t kMaxEvaluatorBatch = 500;

struct NewUser {
  std::string login_id;
  std::string email;  ///< lower case
  std::string user_name;
  std::string role;
  std::string phone;  ///< empty: none
  /// Absent: the account gets an unusable password and an invitation mail (evaluators).
  std::optional<std::string> password;
};

struct UserPatch {
  std::optional<std::string> email;
  std::optional<std::string> user_name;
  /// Engaged and empty: clear the phone.
  std::optional<std::optional<std::string>> phone;
  std::optional<std::string> role;
  std::optional<bool> is_active;
  bool empty() const { return !email && !user_name && !phone && !role && !is_active; }
};

struct UserFilter {
  std::optional<std::string> role;
  std::optional<bool> active;
  std::string search;  ///< login id, name or email contains (case-insensitive); empty: any
};

/// The filter's conditions on the users table.
std::vector<Condition> user_conditions(const UserFilter& f);
/// Users of a list query's rows (at most `max`).
std::vector<auth::User> users_from_rows(const db::Rows& rows, std::size_t max);

class UserAdmin {
 public:
  UserAdmin(db::Database& db, const Clock& clock, auth::SessionManager& sessions,
            const AuthSettings& settings, std::function<void()> mail_queued);

  /// One user (admin: any role; staff: evaluators). 409 with field details when the login id or
  /// email is taken. Without a password (evaluators only) an invitation mail is queued.
  Result<auth::User> create(const NewUser& user, const Audit& audit);
  /// All or nothing; conflicts (in the batch or with existing users) are 409 with details named
  /// `evaluators[i].field`.
  Result<std::vector<auth::User>> create_evaluators(const std::vector<NewUser>& users,
                                                    const Audit& audit);

  /// NOT_FOUND for an unknown id.
  Result<auth::User> get(std::string_view id);
  /// `where_sql` (" WHERE ...", "$n" bound to `params`) and `tail` (ORDER BY ... LIMIT) come from
  /// the listing; the rows carry the user columns, created_at and id.
  Result<db::Rows> list(const std::string& where_sql, const db::Params& params,
                        const std::string& tail);

  /// Applies the patch. 422 when an admin would deactivate or demote themself or the last active
  /// admin; 409 when the email is taken. A role change or a deactivation revokes every session
  /// of the user (a token carries the role it was issued with).
  Result<auth::User> update(std::string_view id, const UserPatch& patch, const Audit& audit);
  /// Deactivates (idempotent): sessions revoked, open reset links spent.
  Result<auth::User> deactivate(std::string_view id, const Audit& audit);

 private:
  /// Inserts users whose hashes are ready, checking conflicts; `batch` names fields
  /// `evaluators[i].x`. Queues the invitations of those in `invited`. Events inside.
  Status insert_all(db::Tx& tx, const std::vector<auth::User>& users,
                    const std::vector<bool>& invited, bool batch, const Audit& audit);
  std::string now() const;

  db::Database& db_;
  const Clock& clock_;
  auth::SessionManager& sessions_;
  const AuthSettings& settings_;
  std::function<void()> mail_queued_;
};

/// Checks that `login_id` and `email` are free (login ids exactly, emails ignoring case), inside
/// `tx`: 409 naming `login_field` and `email_field` otherwise.
Status check_user_free(db::Tx& tx, const std::string& login_id, const std::string& email,
                       const std::string& login_field = "login_id",
                       const std::string& email_field = "email",
                       std::string_view except_user_id = {});

}  // namespace evald::domain
