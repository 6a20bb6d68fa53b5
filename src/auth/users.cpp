#include "auth/users.hpp"

#include <boost/json.hpp>

namespace evald::auth {
namespace {

constexpr const char* kColumns =
    "id, login_id, email, user_name, phone, role, password_hash, is_active, created_at, "
    "last_login";

std::optional<User> from_rows(const db::Rows& rows);

Result<std::optional<User>> one(db::Tx& tx, const std::string& sql, std::string_view value) {
  auto rows = tx.query(sql, {std::string(value)});
  if (!rows) return std::move(rows).error();
  return from_rows(*rows);
}

std::optional<User> from_rows(const db::Rows& rows_in) {
  const db::Rows* rows = &rows_in;
  if (rows->empty()) return std::optional<User>{};
  User u;
  u.id = rows->text(0, "id");
  u.login_id = rows->text(0, "login_id");
  u.email = rows->text(0, "email");
  u.user_name = rows->text(0, "user_name");
  u.phone = rows->text(0, "phone");
  u.role = rows->text(0, "role");
  u.password_hash = rows->text(0, "password_hash");
  u.is_active = rows->integer(0, "is_active") != 0;
  u.created_at = rows->text(0, "created_at");
  u.last_login = rows->text(0, "last_login");
  return std::optional<User>(std::move(u));
}

const std::string& by_id_sql() {
  static const std::string sql = std::string("SELECT ") + kColumns + " FROM users WHERE id = $1";
  return sql;
}

const std::vector<std::string> kUsersTable{"users"};

Status affected_one(Result<std::int64_t> r) {
  if (!r) return std::move(r).error();
  return Ok{};
}

}  // namespace

bool is_valid_role(std::string_view role) {
  return role == "admin" || role == "secretary" || role == "evaluator";
}

Result<std::optional<User>> find_user_by_login_id(db::Tx& tx, std::string_view login_id) {
  return one(tx, std::string("SELECT ") + kColumns + " FROM users WHERE login_id = $1", login_id);
}

Result<std::optional<User>> find_user_by_id(db::Tx& tx, std::string_view id) {
  return one(tx, by_id_sql(), id);
}

Result<std::optional<User>> cached_user_by_id(db::Database& db, std::string_view id) {
  auto rows = db.cached_query(by_id_sql(), {std::string(id)}, kUsersTable);
  if (!rows) return std::move(rows).error();
  return from_rows(*rows);
}

std::optional<std::optional<User>> peek_user_by_id(db::Database& db, std::string_view id) {
  auto rows = db.peek_cached(by_id_sql(), {std::string(id)}, kUsersTable);
  if (!rows) return std::nullopt;
  return from_rows(*rows);
}

Status insert_user(db::Tx& tx, const User& u) {
  return affected_one(tx.exec(
      "INSERT INTO users (id, login_id, email, user_name, phone, role, password_hash, "
      "is_active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
      {u.id, u.login_id, u.email, u.user_name, u.phone.empty() ? db::null() : db::Value(u.phone),
       u.role, u.password_hash, std::int64_t{u.is_active ? 1 : 0}, u.created_at}));
}

Result<std::int64_t> count_active_admins(db::Tx& tx) {
  auto rows = tx.query("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND is_active = 1");
  if (!rows) return std::move(rows).error();
  return rows->integer(0, "n");
}

Status set_password_hash(db::Tx& tx, std::string_view user_id, std::string_view hash,
                         std::string_view now) {
  return affected_one(tx.exec("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3",
                              {std::string(hash), std::string(now), std::string(user_id)}));
}

Status set_last_login(db::Tx& tx, std::string_view user_id, std::string_view now) {
  return affected_one(tx.exec("UPDATE users SET last_login = $1 WHERE id = $2",
                              {std::string(now), std::string(user_id)}));
}

boost::json::object user_json(const User& u) {
  boost::json::object o;
  o["id"] = u.id;
  o["login_id"] = u.login_id;
  o["email"] = u.email;
  o["user_name"] = u.user_name;
  o["phone"] = u.phone.empty() ? boost::json::value(nullptr) : boost::json::value(u.phone);
  o["role"] = u.role;
  o["is_active"] = u.is_active;
  o["created_at"] = u.created_at;
  o["last_login"] =
      u.last_login.empty() ? boost::json::value(nullptr) : boost::json::value(u.last_login);
  return o;
}

}  // namespace evald::auth
