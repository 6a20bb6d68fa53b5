#pragma once
/// Users as the account features need them. SQL lives here, behind plain functions on a Tx.

#include <boost/json/object.hpp>
#include <optional>
#include <string>

#include "core/result.hpp"
#include "db/database.hpp"

namespace evald::auth {

struct User {
  std::string id;
  std::string login_id;
  std::string email;
  std::string user_name;
  std::string phone;
  std::string role;
  std::string password_hash;
  bool is_active = true;
  std::string created_at;
  std::string last_login;
};

bool is_valid_role(std::string_view role);

Result<std::optional<User>> find_user_by_login_id(db::Tx& tx, std::string_view login_id);
Result<std::optional<User>> find_user_by_id(db::Tx& tx, std::string_view id);
Status insert_user(db::Tx& tx, const User& user);

/// By id through the query cache (invalidated by this instance's writes to users): blocking.
Result<std::optional<User>> cached_user_by_id(db::Database& db, std::string_view id);
/// The cached answer only, never the database: for an I/O thread. nullopt: not cached.
std::optional<std::optional<User>> peek_user_by_id(db::Database& db, std::string_view id);
Result<std::int64_t> count_active_admins(db::Tx& tx);
Status set_password_hash(db::Tx& tx, std::string_view user_id, std::string_view hash,
                         std::string_view now);
Status set_last_login(db::Tx& tx, std::string_view user_id, std::string_view now);

/// The public view: never the password hash.
boost::json::object user_json(const User& user);

}  // namespace evald::auth
