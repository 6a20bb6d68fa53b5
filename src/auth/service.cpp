#include "auth/service.hpp"

#include "auth/events.hpp"
#include "auth/password.hpp"
#include "auth/password_policy.hpp"
#include "auth/totp.hpp"
#include "core/ids.hpp"
#include "core/time_format.hpp"
#include "mail/mail.hpp"

namespace evald::auth {
namespace {

ApiError bad_credentials() { return ApiError::auth_failed("Invalid login id or password"); }

ApiError locked(const LockoutStatus& s) {
  const std::string until = s.lockout_until.value_or("");
  return ApiError{ErrorCode::kAccountLocked,
                  "Account is locked after too many failed attempts until " + until,
                  {{"login_id", "locked until " + until, "account_locked", {}}},
                  0,
                  {}};
}

// The token secret: the configured one, or in development and test a random per-process one.
std::string token_secret(const AuthSettings& s) {
  return s.jwt_secret.empty() ? random_token_hex(32) : s.jwt_secret;
}

std::vector<std::string> previous_secrets(const AuthSettings& s) {
  if (s.jwt_secret_previous.empty()) return {};
  return {s.jwt_secret_previous};
}

// MFA secrets at rest: MFA_ENCRYPTION_KEY, else JWT_SECRET; in development and test without
// either, a per-process key (MFA set up then does not survive a restart).
std::string mfa_key(const AuthSettings& s, const std::string& fallback) {
  if (!s.mfa_encryption_key.empty()) return s.mfa_encryption_key;
  return s.jwt_secret.empty() ? fallback : s.jwt_secret;
}

ApiError mfa_required() {
  return ApiError{ErrorCode::kMfaRequired,
                  "A code from your authenticator app, or a backup code, is required",
                  {{"mfa_code", "Field required", "value_error.missing", {}}},
                  0,
                  {}};
}

ApiError wrong_code(const char* field) {
  return ApiError::validation("Request validation failed",
                              {{field, "The code is not valid", "value_error.mfa_code", {}}});
}

ApiError wrong_password() {
  return ApiError::validation("Request validation failed",
                              {{"password", "Password is incorrect", "value_error.password", {}}});
}

}  // namespace

AuthService::AuthService(db::Database& db, const Clock& clock, const AuthSettings& settings,
                         unsigned max_concurrent_hashes)
    : db_(db),
      clock_(clock),
      settings_(settings),
      jwt_(token_secret(settings), clock, previous_secrets(settings)),
      sessions_(clock, std::chrono::hours(settings.session_timeout_hours)),
      lockout_(clock, settings.max_failed_attempts,
               std::chrono::minutes(settings.lockout_duration_minutes)),
      vault_(mfa_key(settings, random_token_hex(32)),
             settings.mfa_encryption_key.empty() ? settings.jwt_secret_previous : ""),
      dummy_hash_(hash_password(random_token_hex(16))),
      hash_slots_(std::max(1u, max_concurrent_hashes)) {}

std::string AuthService::now() const { return format_iso8601(clock_.now(), true); }

bool AuthService::verify_hash(std::string_view password, const std::string& hash) {
  // Bounded: each verification holds 19 MiB; a login flood waits here instead of exhausting
  // memory.
  hash_slots_.acquire();
  const bool ok = verify_password(password, hash);
  hash_slots_.release();
  return ok;
}

Status AuthService::record(const std::string& type, const http::Principal* who,
                           std::string_view login_id, const ClientInfo& client,
                           std::string_view details) {
  return db_.write([&](db::Tx& tx) {
    return record_event(
        tx,
        SecurityEvent{type, who ? who->user_id : "", std::string(login_id), client.ip,
                      client.user_agent, client.request_id, std::string(details)},
        now());
  });
}

ApiError AuthService::count_failure(const std::string& login_id, const std::string& user_id,
                                    const std::string& event, const std::string& details,
                                    const ClientInfo& client) {
  std::optional<LockoutStatus> after;
  auto failed = db_.write([&](db::Tx& tx) -> Status {
    auto s = lockout_.record_failure(tx, login_id);
    if (!s) return std::move(s).error();
    after = *s;
    SecurityEvent e{event,  user_id, login_id, client.ip, client.user_agent, client.request_id,
                    details};
    if (auto r = record_event(tx, e, now()); !r) return r;
    if (after->is_locked) {
      e.type = "authn_login_lock";
      e.details = "locked until " + after->lockout_until.value_or("");
      if (auto r = record_event(tx, e, now()); !r) return r;
    }
    return Ok{};
  });
  if (!failed) return failed.error();
  if (after->is_locked) return locked(*after);
  return bad_credentials();
}

Result<bool> AuthService::consume_second_factor(db::Tx& tx, const MfaState& mfa,
                                                const std::string& user_id, const std::string& code,
                                                const ClientInfo& client,
                                                const std::string& login_id) {
  if (auto step = totp_match(mfa.secret, code, clock_.now())) {
    // Once per time step, on every instance: a replayed code fails here.
    return consume_step(tx, user_id, *step);
  }
  auto used = consume_backup_code(tx, user_id, code, now());
  if (!used) return std::move(used).error();
  if (*used) {
    auto r = record_event(tx,
                          SecurityEvent{"authn_backup_code_used", user_id, login_id, client.ip,
                                        client.user_agent, client.request_id, ""},
                          now());
    if (!r) return r.error();
  }
  return *used;
}

ClientInfo client_info(const http::Request& req, const http::RequestContext& ctx) {
  return {ctx.client_ip, std::string(req.headers.get("User-Agent").value_or("").substr(0, 256)),
          ctx.request_id};
}

std::string_view to_string(LoginOutcome o) {
  switch (o) {
    case LoginOutcome::kSuccess:
      return "success";
    case LoginOutcome::kFailure:
      return "failure";
    case LoginOutcome::kLocked:
      return "locked";
    case LoginOutcome::kMfaRequired:
      return "mfa_required";
    case LoginOutcome::kMfaFailure:
      return "mfa_failure";
  }
  return "";
}

Result<LoginResult> AuthService::login(const std::string& login_id, const std::string& password,
                                       const std::string& mfa_code, const ClientInfo& client) {
  std::optional<LockoutStatus> status;
  std::optional<User> user;
  auto st = db_.read([&](db::Tx& tx) -> Status {
    auto s = lockout_.status(tx, login_id);
    if (!s) return std::move(s).error();
    status = *s;
    auto u = find_user_by_login_id(tx, login_id);
    if (!u) return std::move(u).error();
    user = std::move(*u);
    return Ok{};
  });
  if (!st) return st.error();

  if (status->is_locked) {
    // Attributed to the account when there is one, so that its owner sees the attempts.
    // (Best effort: the answer is "locked" whether or not the event could be written.)
    (void)db_.write([&](db::Tx& tx) {
      return record_event(tx,
                          SecurityEvent{"authn_login_fail", user ? user->id : "", login_id,
                                        client.ip, client.user_agent, client.request_id, "locked"},
                          now());
    });
    count(LoginOutcome::kLocked);
    return locked(*status);
  }
  // An unknown login id is verified against a dummy hash, so that it takes as long.
  const bool password_ok = verify_hash(password, user ? user->password_hash : dummy_hash_);
  if (!password_ok || !user || !user->is_active) {
    count(LoginOutcome::kFailure);
    return count_failure(login_id, user ? user->id : "", "authn_login_fail", "invalid credentials",
                         client);
  }

  MfaState mfa;
  auto loaded = db_.read([&](db::Tx& tx) -> Status {
    auto m = load_mfa(tx, vault_, user->id);
    if (!m) return std::move(m).error();
    mfa = std::move(*m);
    return Ok{};
  });
  if (!loaded) return loaded.error();
  if (mfa.enabled && mfa_code.empty()) {
    count(LoginOutcome::kMfaRequired);
    return mfa_required();
  }

  // Upgrade a hash made with weaker parameters while the password is at hand.
  std::string rehashed;
  if (needs_rehash(user->password_hash)) rehashed = hash_password(password);

  std::string raw_session;
  bool second_factor_failed = false;
  auto ok = db_.write([&](db::Tx& tx) -> Status {
    if (mfa.enabled) {
      auto passed = consume_second_factor(tx, mfa, user->id, mfa_code, client, login_id);
      if (!passed) return std::move(passed).error();
      if (!*passed) {
        second_factor_failed = true;
        return bad_credentials();  // rolls this transaction back
      }
    }
    if (auto r = lockout_.reset(tx, login_id); !r) return r;
    auto sid = sessions_.create(tx, user->id, client.ip, client.user_agent);
    if (!sid) return std::move(sid).error();
    raw_session = std::move(*sid);
    if (auto r = set_last_login(tx, user->id, now()); !r) return r;
    if (!rehashed.empty()) {
      if (auto r = set_password_hash(tx, user->id, rehashed, now()); !r) return r;
    }
    return record_event(tx,
                        SecurityEvent{"authn_login_success", user->id, login_id, client.ip,
                                      client.user_agent, client.request_id, ""},
                        now());
  });
  if (second_factor_failed) {
    count(LoginOutcome::kMfaFailure);
    return count_failure(login_id, user->id, "authn_mfa_fail", "wrong MFA code", client);
  }
  if (!ok) return ok.error();
  count(LoginOutcome::kSuccess);
  const auto lifetime = std::chrono::minutes(settings_.access_token_expire_minutes);
  LoginResult result;
  result.access_token = jwt_.issue(user->id, user->role, raw_session, lifetime);
  result.expires_in = std::chrono::duration_cast<std::chrono::seconds>(lifetime).count();
  user->last_login = now();
  result.user = std::move(*user);
  return result;
}

Status AuthService::logout(const http::Principal& who, const ClientInfo& client) {
  auto st = db_.write([&](db::Tx& tx) -> Status {
    auto r = sessions_.revoke(tx, who.session_id);
    if (!r) return std::move(r).error();
    return record_event(tx,
                        SecurityEvent{"session_revoked", who.user_id, "", client.ip,
                                      client.user_agent, client.request_id, "logout"},
                        now());
  });
  sessions_.forget(who.session_id);
  return st;
}

Result<User> AuthService::me(const http::Principal& who) {
  auto user = cached_user_by_id(db_, who.user_id);
  if (!user) return std::move(user).error();
  if (!*user || !(*user)->is_active) return ApiError::auth_failed("Invalid or expired token");
  return std::move(**user);
}

Status AuthService::change_password(const http::Principal& who, const std::string& current,
                                    const std::string& next, const ClientInfo& client) {
  auto user = me(who);
  if (!user) return std::move(user).error();
  if (!verify_hash(current, user->password_hash)) {
    // Guessing the current password with a stolen token counts like a failed login; when that
    // cannot be recorded, the guess is not answered either.
    auto counted = db_.write([&](db::Tx& tx) -> Status {
      auto s = lockout_.record_failure(tx, user->login_id);
      if (!s) return std::move(s).error();
      return record_event(
          tx,
          SecurityEvent{"authn_password_change_fail", who.user_id, user->login_id, client.ip,
                        client.user_agent, client.request_id, "wrong current password"},
          now());
    });
    if (!counted) return counted.error();
    return ApiError::validation(
        "Request validation failed",
        {{"current_password", "Current password is incorrect", "value_error.password", {}}});
  }
  auto problems = check_password_policy(next, user->login_id, user->email, "new_password");
  if (next == current) {
    problems.push_back({"new_password",
                        "New password must differ from the current one",
                        "password.unchanged",
                        {}});
  }
  if (!problems.empty()) return ApiError::validation("Request validation failed", problems);
  const std::string hash = hash_password(next);
  auto st = db_.write([&](db::Tx& tx) -> Status {
    if (auto r = set_password_hash(tx, who.user_id, hash, now()); !r) return r;
    auto revoked = sessions_.revoke_all(tx, who.user_id, who.session_id);
    if (!revoked) return std::move(revoked).error();
    return record_event(tx,
                        SecurityEvent{"authn_password_change", who.user_id, user->login_id,
                                      client.ip, client.user_agent, client.request_id,
                                      "other sessions revoked: " + std::to_string(*revoked)},
                        now());
  });
  if (st) sessions_.forget_user(who.user_id);
  return st;
}

Result<LockoutStatus> AuthService::lockout_status(std::string_view login_id) {
  std::optional<LockoutStatus> out;
  auto st = db_.read([&](db::Tx& tx) -> Status {
    auto s = lockout_.status(tx, login_id);
    if (!s) return std::move(s).error();
    out = *s;
    return Ok{};
  });
  if (!st) return st.error();
  return *out;
}

Status AuthService::unlock(std::string_view login_id, const http::Principal& by,
                           const ClientInfo& client) {
  return db_.write([&](db::Tx& tx) -> Status {
    if (auto r = lockout_.reset(tx, login_id); !r) return r;
    return record_event(tx,
                        SecurityEvent{"authn_account_unlock", by.user_id, std::string(login_id),
                                      client.ip, client.user_agent, client.request_id, ""},
                        now());
  });
}

Result<User> AuthService::create_user(const std::string& login_id, const std::string& email,
                                      const std::string& user_name, const std::string& role,
                                      const std::string& password) {
  std::vector<FieldError> problems;
  if (!is_valid_role(role)) {
    problems.push_back({"role", "Must be admin, secretary or evaluator", "value_error.role", {}});
  }
  if (login_id.empty() || login_id.size() > 64) {
    problems.push_back({"login_id", "Must be 1 to 64 characters", "value_error.login_id", {}});
  }
  if (email.find('@') == std::string::npos || email.size() > 254) {
    problems.push_back({"email", "Invalid email format", "value_error.email", {}});
  }
  auto policy = check_password_policy(password, login_id, email);
  problems.insert(problems.end(), policy.begin(), policy.end());
  if (!problems.empty()) return ApiError::validation("Request validation failed", problems);
  User u;
  u.id = new_uuid();
  u.login_id = login_id;
  u.email = email;
  u.user_name = user_name.empty() ? login_id : user_name;
  u.role = role;
  u.password_hash = hash_password(password);
  u.created_at = now();
  auto st = db_.write([&](db::Tx& tx) { return insert_user(tx, u); });
  if (!st) return st.error();
  return u;
}

Status AuthService::request_password_reset(const std::string& email, const ClientInfo& client) {
  std::optional<std::string> user_id, login_id;
  auto found =
      db_.query("SELECT id, login_id FROM users WHERE email = $1 AND is_active = 1", {email});
  if (!found) return found.error();
  if (!found->empty()) {
    user_id = found->text(0, "id");
    login_id = found->text(0, "login_id");
  }
  const auto now_tp = clock_.now();
  const std::string token = random_token_hex(32);  // 256 bits
  const auto hours = settings_.reset_token_expiry_hours;
  auto st = db_.write([&](db::Tx& tx) -> Status {
    if (!user_id) {
      // Same work shape as the real path, and an event without the address.
      return record_event(tx,
                          SecurityEvent{"authn_password_reset_request", "", "", client.ip,
                                        client.user_agent, client.request_id, "no such account"},
                          now());
    }
    // A newer request makes older tokens useless.
    auto old =
        tx.exec("UPDATE password_resets SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL",
                {now(), *user_id});
    if (!old) return std::move(old).error();
    auto ins = tx.exec(
        "INSERT INTO password_resets (id, user_id, token_hash, created_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5)",
        {new_uuid(), *user_id, sha256_hex(token), now(),
         format_iso8601(now_tp + std::chrono::hours(hours), true)});
    if (!ins) return std::move(ins).error();
    const std::string link = settings_.frontend_url + "/reset-password?token=" + token;
    const std::string expiry =
        "This link will expire in " + std::to_string(hours) + (hours == 1 ? " hour." : " hours.");
    mail::Mail m;
    m.to = email;
    m.subject = "Password Reset Request - Online Evaluation System";
    m.text =
        "Hello,\r\n\r\nA password reset was requested for your Online Evaluation System "
        "account (" +
        *login_id + ").\r\nOpen this link to choose a new password:\r\n\r\n" + link + "\r\n\r\n" +
        expiry +
        "\r\nIf you did not ask for this, ignore this mail; your password stays as it is.\r\n";
    m.html =
        "<p>Hello,</p><p>A password reset was requested for your Online Evaluation System "
        "account.</p><p><a href=\"" +
        link + "\">Choose a new password</a></p><p>" + expiry +
        "</p><p>If you did not ask for this, ignore this mail; your password stays as it "
        "is.</p>";
    if (auto q = mail::enqueue(tx, m, now()); !q) return q;
    return record_event(tx,
                        SecurityEvent{"authn_password_reset_request", *user_id, *login_id,
                                      client.ip, client.user_agent, client.request_id, ""},
                        now());
  });
  if (st && user_id && mail_queued_) mail_queued_();
  return st;
}

Status AuthService::reset_password(const std::string& token, const std::string& next,
                                   const ClientInfo& client) {
  const ApiError invalid = ApiError::validation(
      "Request validation failed", {{"token",
                                     "The reset link is invalid or has expired; request a new one",
                                     "value_error.reset_token",
                                     {}}});
  std::optional<User> user;
  std::string reset_id;
  auto found = db_.read([&](db::Tx& tx) -> Status {
    auto rows = tx.query(
        "SELECT id, user_id, expires_at, used_at FROM password_resets WHERE token_hash = $1",
        {sha256_hex(token)});
    if (!rows) return std::move(rows).error();
    if (rows->empty() || !rows->null_at(0, "used_at") || rows->text(0, "expires_at") <= now()) {
      return Ok{};
    }
    reset_id = rows->text(0, "id");
    auto u = find_user_by_id(tx, rows->text(0, "user_id"));
    if (!u) return std::move(u).error();
    user = std::move(*u);
    return Ok{};
  });
  if (!found) return found.error();
  if (!user || !user->is_active) return invalid;
  auto problems = check_password_policy(next, user->login_id, user->email, "new_password");
  if (!problems.empty()) return ApiError::validation("Request validation failed", problems);
  const std::string hash = hash_password(next);
  bool spent = false;
  auto st = db_.write([&](db::Tx& tx) -> Status {
    // Single use, even against a concurrent reset with the same token.
    auto used = tx.exec("UPDATE password_resets SET used_at = $1 WHERE id = $2 AND used_at IS NULL",
                        {now(), reset_id});
    if (!used) return std::move(used).error();
    if (*used != 1) {
      spent = true;
      return invalid;
    }
    if (auto r = set_password_hash(tx, user->id, hash, now()); !r) return r;
    auto revoked = sessions_.revoke_all(tx, user->id, "");
    if (!revoked) return std::move(revoked).error();
    if (auto r = lockout_.reset(tx, user->login_id); !r) return r;
    return record_event(tx,
                        SecurityEvent{"authn_password_reset", user->id, user->login_id, client.ip,
                                      client.user_agent, client.request_id,
                                      "sessions revoked: " + std::to_string(*revoked)},
                        now());
  });
  if (st || spent) sessions_.forget_user(user->id);
  return st;
}

Result<MfaSetup> AuthService::setup_mfa(const http::Principal& who, const std::string& password,
                                        const ClientInfo& client) {
  auto user = me(who);
  if (!user) return std::move(user).error();
  if (!verify_hash(password, user->password_hash)) {
    count_failure(user->login_id, user->id, "authn_mfa_fail", "wrong password at MFA setup",
                  client);
    return wrong_password();
  }
  std::string secret(20, '\0');  // 160 bits
  secure_random(secret.data(), secret.size());
  MfaSetup out;
  out.secret = base32_encode(secret);
  out.otpauth_uri = otpauth_uri(secret, kTotpIssuer, user->email);
  out.qr_code = qr_png_data_uri(out.otpauth_uri);
  out.backup_codes = new_backup_codes();
  auto st = db_.write([&](db::Tx& tx) {
    return save_pending_mfa(tx, vault_, who.user_id, secret, out.backup_codes, now());
  });
  if (!st) return st.error();
  return out;
}

Status AuthService::verify_mfa_setup(const http::Principal& who, const std::string& code,
                                     const ClientInfo& client) {
  bool wrong = false;
  auto st = db_.write([&](db::Tx& tx) -> Status {
    auto mfa = load_mfa(tx, vault_, who.user_id);
    if (!mfa) return std::move(mfa).error();
    if (mfa->pending_secret.empty()) {
      return ApiError{ErrorCode::kBusinessLogicError,
                      "No MFA setup is waiting for verification; call /auth/setup-mfa first",
                      {},
                      0,
                      {}};
    }
    auto step = totp_match(mfa->pending_secret, code, clock_.now());
    if (!step) {
      wrong = true;
      return wrong_code("code");
    }
    if (auto r = activate_mfa(tx, vault_, who.user_id, mfa->pending_secret, mfa->pending_codes,
                              *step, now());
        !r) {
      return r;
    }
    return record_event(tx,
                        SecurityEvent{"authn_mfa_enabled", who.user_id, "", client.ip,
                                      client.user_agent, client.request_id, ""},
                        now());
  });
  if (wrong) {
    record("authn_mfa_fail", &who, "", client, "wrong code at MFA verification");
  }
  return st;
}

Status AuthService::disable_mfa(const http::Principal& who, const std::string& password,
                                const std::string& code, const ClientInfo& client) {
  auto user = me(who);
  if (!user) return std::move(user).error();
  if (!verify_hash(password, user->password_hash)) {
    count_failure(user->login_id, user->id, "authn_mfa_fail", "wrong password at MFA disable",
                  client);
    return wrong_password();
  }
  bool wrong = false;
  auto st = db_.write([&](db::Tx& tx) -> Status {
    auto mfa = load_mfa(tx, vault_, who.user_id);
    if (!mfa) return std::move(mfa).error();
    if (!mfa->enabled) {
      return ApiError{ErrorCode::kBusinessLogicError, "MFA is not enabled", {}, 0, {}};
    }
    auto passed = consume_second_factor(tx, *mfa, who.user_id, code, client, user->login_id);
    if (!passed) return std::move(passed).error();
    if (!*passed) {
      wrong = true;
      return wrong_code("code");
    }
    if (auto r = delete_mfa(tx, who.user_id); !r) return r;
    return record_event(tx,
                        SecurityEvent{"authn_mfa_disabled", who.user_id, user->login_id, client.ip,
                                      client.user_agent, client.request_id, ""},
                        now());
  });
  if (wrong) {
    count_failure(user->login_id, user->id, "authn_mfa_fail", "wrong code at MFA disable", client);
  }
  return st;
}

Result<int> AuthService::reseal_mfa_secrets() {
  int n = 0;
  auto st = db_.write([&](db::Tx& tx) -> Status {
    auto r = auth::reseal_mfa_secrets(tx, vault_);
    if (!r) return std::move(r).error();
    n = *r;
    return Ok{};
  });
  if (!st) return std::move(st).error();
  return n;
}

Result<bool> AuthService::bootstrap_admin() {
  if (settings_.admin_login_id.empty() || settings_.admin_password.empty() ||
      settings_.admin_email.empty()) {
    return false;
  }
  auto active_admins = [&]() -> Result<std::int64_t> {
    std::int64_t admins = 0;
    auto st = db_.read([&](db::Tx& tx) -> Status {
      auto n = count_active_admins(tx);
      if (!n) return std::move(n).error();
      admins = *n;
      return Ok{};
    });
    if (!st) return st.error();
    return admins;
  };
  auto before = active_admins();
  if (!before) return std::move(before).error();
  if (*before > 0) return false;
  auto u = create_user(settings_.admin_login_id, settings_.admin_email, "Administrator", "admin",
                       settings_.admin_password);
  if (!u) {
    // Several instances starting together on an empty database all try; the one that lost the
    // race finds the admin the winner made.
    auto after = active_admins();
    if (after && *after > 0) return false;
    return std::move(u).error();
  }
  return true;
}

}  // namespace evald::auth
