#include "domain/users_admin.hpp"

#include <algorithm>
#include <unordered_map>

#include "auth/events.hpp"
#include "auth/password.hpp"
#include "core/ids.hpp"
#include "core/time_format.hpp"
#include "mail/mail.hpp"

namespace evald::domain {
namespace {

constexpr const char* kListColumns =
    "SELECT id, login_id, email, user_name, phone, role, is_active, created_at, last_login "
    "FROM users";

constexpr const char* kInsertUser =
    "INSERT INTO users (id, login_id, email, user_name, phone, role, password_hash, is_active, "
    "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8)";

// Existing users are looked up this many batch items at a time (two values each).
constexpr std::size_t kLookupChunk = 200;

bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

std::string ascii_lower(std::string s) {
  for (auto& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// A LIKE pattern matching `s` anywhere, with the pattern characters escaped by '\'.
std::string contains_pattern(std::string_view s) {
  std::string out = "%";
  for (char c : s) {
    if (c == '\\' || c == '%' || c == '_') out += '\\';
    out += c;
  }
  out += '%';
  return out;
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string field_of(bool batch, std::size_t i, std::string_view name) {
  if (!batch) return std::string(name);
  return "evaluators[" + std::to_string(i) + "]." + std::string(name);
}

FieldError taken(std::string field, bool login) {
  return FieldError{std::move(field),
                    login ? "This login id is already taken" : "This email is already in use",
                    "conflict.taken",
                    {}};
}

db::Value opt_text(const std::string& s) { return s.empty() ? db::null() : db::Value(s); }

}  // namespace

bool is_valid_login_id(std::string_view s) {
  if (s.size() < 3 || s.size() > 64 || !is_ascii_alnum(s.front())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return is_ascii_alnum(c) || c == '.' || c == '_' || c == '-' || c == '@';
  });
}

bool is_valid_phone(std::string_view s) {
  if (s.size() < 3 || s.size() > 20) return false;
  std::size_t digits = 0;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c != ' ' && c != '+' && c != '-' && c != '(' && c != ')') {
      return false;
    }
  }
  return digits >= 3;
}

bool has_control_chars(std::string_view s, bool allow_newlines) {
  return std::any_of(s.begin(), s.end(), [&](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    if (allow_newlines && (c == '\n' || c == '\r' || c == '\t')) return false;
    return c < 0x20 || c == 0x7f;
  });
}

std::vector<Condition> user_conditions(const UserFilter& f) {
  std::vector<Condition> out;
  if (f.role) out.push_back({"role = ?", {*f.role}});
  if (f.active) out.push_back({"is_active = ?", {std::int64_t{*f.active ? 1 : 0}}});
  if (!f.search.empty()) {
    const std::string p = contains_pattern(ascii_lower(f.search));
    out.push_back(
        {"(LOWER(login_id) LIKE ? ESCAPE '\\' OR LOWER(user_name) LIKE ? ESCAPE '\\' "
         "OR LOWER(email) LIKE ? ESCAPE '\\')",
         {p, p, p}});
  }
  return out;
}

std::vector<auth::User> users_from_rows(const db::Rows& rows, std::size_t max) {
  std::vector<auth::User> out;
  const std::size_t n = std::min(rows.size(), max);
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auth::User u;
    u.id = rows.text(i, "id");
    u.login_id = rows.text(i, "login_id");
    u.email = rows.text(i, "email");
    u.user_name = rows.text(i, "user_name");
    u.phone = rows.null_at(i, "phone") ? "" : rows.text(i, "phone");
    u.role = rows.text(i, "role");
    u.is_active = rows.integer(i, "is_active") != 0;
    u.created_at = rows.text(i, "created_at");
    u.last_login = rows.null_at(i, "last_login") ? "" : rows.text(i, "last_login");
    out.push_back(std::move(u));
  }
  return out;
}

Status check_user_free(db::Tx& tx, const std::string& login_id, const std::string& email,
                       const std::string& login_field, const std::string& email_field,
                       std::string_view except_user_id) {
  auto rows = tx.query(
      "SELECT id, login_id, LOWER(email) AS email FROM users "
      "WHERE login_id = $1 OR LOWER(email) = $2",
      {login_id, ascii_lower(email)});
  if (!rows) return std::move(rows).error();
  bool login_taken = false, email_taken = false;
  for (std::size_t i = 0; i < rows->size(); ++i) {
    if (rows->text(i, "id") == except_user_id) continue;
    if (!login_id.empty() && rows->text(i, "login_id") == login_id) login_taken = true;
    if (rows->text(i, "email") == ascii_lower(email)) email_taken = true;
  }
  std::vector<FieldError> details;
  if (login_taken) details.push_back(taken(login_field, true));
  if (email_taken) details.push_back(taken(email_field, false));
  if (!details.empty()) {
    return conflict(login_taken && email_taken ? "The login id and the email are already in use"
                    : login_taken              ? "The login id is already taken"
                                               : "The email is already in use",
                    std::move(details));
  }
  return Ok{};
}

UserAdmin::UserAdmin(db::Database& db, const Clock& clock, auth::SessionManager& sessions,
                     const AuthSettings& settings, std::function<void()> mail_queued)
    : db_(db),
      clock_(clock),
      sessions_(sessions),
      settings_(settings),
      mail_queued_(std::move(mail_queued)) {}

std::string UserAdmin::now() const { return format_iso8601(clock_.now(), true); }

Status UserAdmin::insert_all(db::Tx& tx, const std::vector<auth::User>& users,
                             const std::vector<bool>& invited, bool batch, const Audit& audit) {
  // Conflicts inside the request, then with the users that exist: every one reported.
  std::vector<FieldError> details;
  std::unordered_map<std::string, std::size_t> logins, emails;
  for (std::size_t i = 0; i < users.size(); ++i) {
    const auto& u = users[i];
    if (auto [it, fresh] = logins.emplace(u.login_id, i); !fresh) {
      details.push_back({field_of(batch, i, "login_id"),
                         "Same login id as " + field_of(batch, it->second, "login_id"),
                         "conflict.duplicate",
                         {}});
    }
    if (auto [it, fresh] = emails.emplace(ascii_lower(u.email), i); !fresh) {
      details.push_back({field_of(batch, i, "email"),
                         "Same email as " + field_of(batch, it->second, "email"),
                         "conflict.duplicate",
                         {}});
    }
  }
  std::vector<std::pair<std::size_t, FieldError>> existing;
  for (std::size_t start = 0; start < users.size(); start += kLookupChunk) {
    const std::size_t end = std::min(users.size(), start + kLookupChunk);
    std::string logins_in, emails_in;
    db::Params params;
    for (std::size_t i = start; i < end; ++i) {
      params.emplace_back(users[i].login_id);
      logins_in += (i == start ? "$" : ", $") + std::to_string(params.size());
    }
    for (std::size_t i = start; i < end; ++i) {
      params.emplace_back(ascii_lower(users[i].email));
      emails_in += (i == start ? "$" : ", $") + std::to_string(params.size());
    }
    auto rows = tx.query("SELECT login_id, LOWER(email) AS email FROM users WHERE login_id IN (" +
                             logins_in + ") OR LOWER(email) IN (" + emails_in + ")",
                         params);
    if (!rows) return std::move(rows).error();
    std::unordered_map<std::string, bool> login_hit, email_hit;
    for (std::size_t r = 0; r < rows->size(); ++r) {
      login_hit[rows->text(r, "login_id")] = true;
      email_hit[rows->text(r, "email")] = true;
    }
    for (std::size_t i = start; i < end; ++i) {
      if (login_hit.count(users[i].login_id)) {
        existing.emplace_back(i, taken(field_of(batch, i, "login_id"), true));
      }
      if (email_hit.count(ascii_lower(users[i].email))) {
        existing.emplace_back(i, taken(field_of(batch, i, "email"), false));
      }
    }
  }
  for (auto& [i, d] : existing) details.push_back(std::move(d));
  if (!details.empty()) {
    std::stable_sort(details.begin(), details.end(),
                     [](const FieldError& a, const FieldError& b) { return a.field < b.field; });
    return conflict(batch ? "Some evaluators conflict with each other or with existing users"
                          : "The login id or email is already in use",
                    std::move(details));
  }

  const std::string at = now();
  std::vector<db::Params> rows;
  rows.reserve(users.size());
  for (const auto& u : users) {
    rows.push_back(
        {u.id, u.login_id, u.email, u.user_name, opt_text(u.phone), u.role, u.password_hash, at});
  }
  if (auto r = tx.exec_many(kInsertUser, rows); !r) return r;

  // Invitations: a reset token (single use, RESET_TOKEN_EXPIRY_HOURS) mailed to each invitee.
  const auto hours = settings_.reset_token_expiry_hours;
  const std::string expires = format_iso8601(clock_.now() + std::chrono::hours(hours), true);
  const std::string expiry =
      "This link will expire in " + std::to_string(hours) + (hours == 1 ? " hour." : " hours.");
  std::vector<db::Params> resets;
  std::size_t invitations = 0;
  for (std::size_t i = 0; i < users.size(); ++i) {
    if (!invited[i]) continue;
    ++invitations;
    const auto& u = users[i];
    const std::string token = random_token_hex(32);  // 256 bits; only its hash is stored
    resets.push_back({new_uuid(), u.id, sha256_hex(token), at, expires});
    const std::string link = settings_.frontend_url + "/reset-password?token=" + token;
    mail::Mail m;
    m.to = u.email;
    m.subject = "Your Online Evaluation System account";
    m.text = "Hello " + u.user_name +
             ",\r\n\r\nAn evaluator account was created for you in the Online Evaluation "
             "System.\r\nYour login id: " +
             u.login_id + "\r\n\r\nOpen this link to choose your password:\r\n\r\n" + link +
             "\r\n\r\n" + expiry +
             " After that, use \"Forgot password\" with this email address to get a new "
             "link.\r\n";
    m.html = "<p>Hello " + html_escape(u.user_name) +
             ",</p><p>An evaluator account was created for you in the Online Evaluation "
             "System.</p><p>Your login id: <b>" +
             html_escape(u.login_id) + "</b></p><p><a href=\"" + html_escape(link) +
             "\">Choose your password</a></p><p>" + expiry +
             " After that, use \"Forgot password\" with this email address to get a new "
             "link.</p>";
    if (auto q = mail::enqueue(tx, m, at); !q) return q;
  }
  if (!resets.empty()) {
    if (auto r = tx.exec_many(
            "INSERT INTO password_resets (id, user_id, token_hash, created_at, expires_at) "
            "VALUES ($1, $2, $3, $4, $5)",
            resets);
        !r) {
      return r;
    }
  }

  const auto& c = audit.client;
  if (!batch) {
    const auto& u = users.front();
    return auth::record_event(
        tx,
        auth::SecurityEvent{"admin_user_created", audit.actor.user_id, u.login_id, c.ip,
                            c.user_agent, c.request_id,
                            "user " + u.id + ", role " + u.role + (invited[0] ? ", invited" : "")},
        at);
  }
  return auth::record_event(tx,
                            auth::SecurityEvent{"admin_users_batch_created", audit.actor.user_id,
                                                "", c.ip, c.user_agent, c.request_id,
                                                "evaluators: " + std::to_string(users.size()) +
                                                    ", invited: " + std::to_string(invitations)},
                            at);
}

Result<auth::User> UserAdmin::create(const NewUser& in, const Audit& audit) {
  auth::User u;
  u.id = new_uuid();
  u.login_id = in.login_id;
  u.email = in.email;
  u.user_name = in.user_name;
  u.phone = in.phone;
  u.role = in.role;
  // Without a password: the hash of a random secret nobody keeps. It verifies in the usual time,
  // so a sign-in attempt does not tell invited accounts apart.
  u.password_hash = auth::hash_password(in.password ? *in.password : random_token_hex(32));
  u.created_at = now();
  const bool invited = !in.password.has_value();
  auto st = db_.write([&](db::Tx& tx) { return insert_all(tx, {u}, {invited}, false, audit); });
  if (!st) return st.error();
  if (invited && mail_queued_) mail_queued_();
  u.password_hash.clear();
  return u;
}

Result<std::vector<auth::User>> UserAdmin::create_evaluators(const std::vector<NewUser>& list,
                                                             const Audit& audit) {
  // Hashes first, outside the transaction: writers do not wait on argon2id.
  const std::string unusable = auth::hash_password(random_token_hex(32));
  std::vector<auth::User> users;
  std::vector<bool> invited;
  users.reserve(list.size());
  const std::string at = now();
  for (const auto& in : list) {
    auth::User u;
    u.id = new_uuid();
    u.login_id = in.login_id;
    u.email = in.email;
    u.user_name = in.user_name;
    u.phone = in.phone;
    u.role = "evaluator";
    u.password_hash = in.password ? auth::hash_password(*in.password) : unusable;
    u.created_at = at;
    invited.push_back(!in.password.has_value());
    users.push_back(std::move(u));
  }
  auto st = db_.write([&](db::Tx& tx) { return insert_all(tx, users, invited, true, audit); });
  if (!st) return st.error();
  if (mail_queued_ && std::find(invited.begin(), invited.end(), true) != invited.end()) {
    mail_queued_();
  }
  for (auto& u : users) u.password_hash.clear();
  return users;
}

Result<auth::User> UserAdmin::get(std::string_view id) {
  std::optional<auth::User> out;
  auto st = db_.read([&](db::Tx& tx) -> Status {
    auto u = auth::find_user_by_id(tx, id);
    if (!u) return std::move(u).error();
    out = std::move(*u);
    return Ok{};
  });
  if (!st) return st.error();
  if (!out) return not_found("User");
  out->password_hash.clear();
  return std::move(*out);
}

Result<db::Rows> UserAdmin::list(const std::string& where_sql, const db::Params& params,
                                 const std::string& tail) {
  return db_.query(kListColumns + where_sql + tail, params);
}

Result<auth::User> UserAdmin::update(std::string_view id, const UserPatch& p, const Audit& audit) {
  std::optional<auth::User> out;
  bool revoked = false;
  auto st = db_.write([&](db::Tx& tx) -> Status {
    auto found = auth::find_user_by_id(tx, id);
    if (!found) return std::move(found).error();
    if (!*found) return not_found("User");
    const auth::User u = **found;
    const bool self = audit.actor.user_id == u.id;
    const bool deactivating = p.is_active && !*p.is_active && u.is_active;
    const bool reactivating = p.is_active && *p.is_active && !u.is_active;
    const bool role_changes = p.role && *p.role != u.role;
    const bool demoting = role_changes && u.role == "admin";
    if (self && p.is_active && !*p.is_active) {
      return business("You cannot deactivate your own account");
    }
    if (self && demoting) return business("You cannot change your own role");
    if (u.role == "admin" && u.is_active && (deactivating || demoting)) {
      // Locks the active admins (PostgreSQL), so that two admins removing each other at once
      // cannot both succeed; SQLite serialises writers anyway.
      std::string sql = "SELECT id FROM users WHERE role = 'admin' AND is_active = 1";
      if (db_.engine() == db::Engine::kPostgres) sql += " FOR UPDATE";
      auto admins = tx.query(sql);
      if (!admins) return std::move(admins).error();
      if (admins->size() <= 1) {
        return business("The last active admin cannot be deactivated or demoted");
      }
    }
    const bool email_changes = p.email && *p.email != ascii_lower(u.email);
    if (email_changes) {
      if (auto free = check_user_free(tx, "", *p.email, "login_id", "email", u.id); !free) {
        return free;
      }
    }

    std::string set;
    db::Params params;
    std::vector<std::string> changed;
    auto assign = [&](const char* column, db::Value v) {
      params.push_back(std::move(v));
      set += std::string(set.empty() ? "" : ", ") + column + " = $" + std::to_string(params.size());
    };
    if (email_changes) {
      assign("email", *p.email);
      changed.push_back("email");
    }
    if (p.user_name && *p.user_name != u.user_name) {
      assign("user_name", *p.user_name);
      changed.push_back("user_name");
    }
    if (p.phone && p.phone->value_or("") != u.phone) {
      assign("phone", p.phone->has_value() ? db::Value(**p.phone) : db::null());
      changed.push_back("phone");
    }
    if (role_changes) {
      assign("role", *p.role);
      changed.push_back("role " + u.role + " -> " + *p.role);
    }
    if (deactivating || reactivating) assign("is_active", std::int64_t{deactivating ? 0 : 1});
    if (!set.empty()) {
      const std::string at = now();
      assign("updated_at", at);
      params.emplace_back(u.id);
      auto r = tx.exec("UPDATE users SET " + set + " WHERE id = $" + std::to_string(params.size()),
                       params);
      if (!r) return std::move(r).error();

      const auto& c = audit.client;
      auto event = [&](const char* type, std::string details) {
        return auth::record_event(
            tx,
            auth::SecurityEvent{type, audit.actor.user_id, u.login_id, c.ip, c.user_agent,
                                c.request_id, "user " + u.id + details},
            at);
      };
      std::int64_t n = 0;
      if (deactivating || role_changes) {
        // A token carries the role it was issued with: a new role needs a new sign-in.
        auto k = sessions_.revoke_all(tx, u.id, "");
        if (!k) return std::move(k).error();
        n = *k;
        revoked = true;
      }
      if (deactivating) {
        auto spent = tx.exec(
            "UPDATE password_resets SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL",
            {at, u.id});
        if (!spent) return std::move(spent).error();
        if (auto e = event("admin_user_deactivated", ", sessions revoked: " + std::to_string(n));
            !e) {
          return e;
        }
      }
      if (reactivating) {
        if (auto e = event("admin_user_reactivated", ""); !e) return e;
      }
      if (!changed.empty()) {
        std::string list;
        for (const auto& f : changed) list += (list.empty() ? "" : ", ") + f;
        if (role_changes) list += "; sessions revoked: " + std::to_string(n);
        if (auto e = event("admin_user_updated", ", changed: " + list); !e) return e;
      }
    }
    auto fresh = auth::find_user_by_id(tx, u.id);
    if (!fresh) return std::move(fresh).error();
    out = std::move(**fresh);
    return Ok{};
  });
  if (!st) return st.error();
  if (revoked) sessions_.forget_user(out->id);
  out->password_hash.clear();
  return std::move(*out);
}

Result<auth::User> UserAdmin::deactivate(std::string_view id, const Audit& audit) {
  UserPatch p;
  p.is_active = false;
  return update(id, p, audit);
}

}  // namespace evald::domain
