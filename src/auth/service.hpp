#pragma once
/// The account flows: login, token checks, logout, password change, sessions, lockout. Every
/// call blocks (database, argon2id): run it on the worker pool.

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <semaphore>
#include <string>

#include "auth/jwt.hpp"
#include "auth/lockout.hpp"
#include "auth/mfa.hpp"
#include "auth/sessions.hpp"
#include "auth/users.hpp"
#include "config/settings.hpp"
#include "core/clock.hpp"
#include "db/database.hpp"
#include "http/context.hpp"
#include "http/message.hpp"

namespace evald::auth {

/// How sign-ins ended, for the metrics.
enum class LoginOutcome { kSuccess, kFailure, kLocked, kMfaRequired, kMfaFailure };
inline constexpr std::size_t kLoginOutcomes = 5;
std::string_view to_string(LoginOutcome o);

struct ClientInfo {
  std::string ip;
  std::string user_agent;
  std::string request_id;
};

/// Who is asking, for security events: the client IP (as the rate limiter found it, trusted
/// proxies included), the user agent (at most 256 characters) and the request id.
ClientInfo client_info(const http::Request& req, const http::RequestContext& ctx);

struct MfaSetup {
  std::string secret;  ///< base32, for manual entry
  std::string otpauth_uri;
  std::string qr_code;  ///< data:image/png;base64,...
  std::vector<std::string> backup_codes;
};

struct LoginResult {
  std::string access_token;
  std::int64_t expires_in = 0;
  User user;
};

class AuthService {
 public:
  AuthService(db::Database& db, const Clock& clock, const AuthSettings& settings,
              unsigned max_concurrent_hashes);

  /// AUTH_FAILED for a wrong login id or password alike (same body, about the same time),
  /// ACCOUNT_LOCKED while locked.
  /// With MFA on: MFA_REQUIRED without `mfa_code`, AUTH_FAILED (counted) with a wrong one.
  Result<LoginResult> login(const std::string& login_id, const std::string& password,
                            const std::string& mfa_code, const ClientInfo& client);

  /// Always the same outcome for the caller; a mail only when the email is an active account's.
  Status request_password_reset(const std::string& email, const ClientInfo& client);
  /// VALIDATION_ERROR for a token that is unknown, used, superseded or expired (one message).
  Status reset_password(const std::string& token, const std::string& new_password,
                        const ClientInfo& client);
  /// Called after a mail is queued (wakes the sender).
  void on_mail_queued(std::function<void()> f) { mail_queued_ = std::move(f); }
  /// Called with each sign-in's outcome, on the thread that ran it (set before serving).
  void on_login_outcome(std::function<void(LoginOutcome)> f) { login_outcome_ = std::move(f); }

  Result<MfaSetup> setup_mfa(const http::Principal& who, const std::string& password,
                             const ClientInfo& client);
  Status verify_mfa_setup(const http::Principal& who, const std::string& code,
                          const ClientInfo& client);
  Status disable_mfa(const http::Principal& who, const std::string& password,
                     const std::string& code, const ClientInfo& client);

  /// Token signature and claims only (cheap; I/O thread).
  Result<Claims> verify_token(std::string_view token) const { return jwt_.verify(token); }
  SessionManager& sessions() { return sessions_; }
  const Lockout& lockout() const { return lockout_; }

  Status logout(const http::Principal& who, const ClientInfo& client);
  Result<User> me(const http::Principal& who);
  Status change_password(const http::Principal& who, const std::string& current,
                         const std::string& next, const ClientInfo& client);
  Result<LockoutStatus> lockout_status(std::string_view login_id);
  Status unlock(std::string_view login_id, const http::Principal& by, const ClientInfo& client);
  Status record(const std::string& type, const http::Principal* who, std::string_view login_id,
                const ClientInfo& client, std::string_view details);

  /// Creates a user (bootstrap and the CLI); the password must pass the policy.
  Result<User> create_user(const std::string& login_id, const std::string& email,
                           const std::string& user_name, const std::string& role,
                           const std::string& password);
  /// Creates the first admin from the settings when no active admin exists; false if none made.
  Result<bool> bootstrap_admin();
  /// After a JWT_SECRET rotation (JWT_SECRET_PREVIOUS set, no MFA_ENCRYPTION_KEY): seals every
  /// MFA secret again under the new key; how many. Run at start, before serving.
  Result<int> reseal_mfa_secrets();

  db::Database& db() { return db_; }
  const Clock& clock() const { return clock_; }
  std::uint64_t login_outcomes(LoginOutcome o) const {
    return outcomes_[static_cast<std::size_t>(o)].load(std::memory_order_relaxed);
  }

 private:
  bool verify_hash(std::string_view password, const std::string& hash);
  /// Counts a failed factor for `login_id` and records `event`; the error to answer with.
  ApiError count_failure(const std::string& login_id, const std::string& user_id,
                         const std::string& event, const std::string& details,
                         const ClientInfo& client);
  /// Verifies a TOTP code (once per step) or a backup code (once) inside `tx`.
  Result<bool> consume_second_factor(db::Tx& tx, const MfaState& mfa, const std::string& user_id,
                                     const std::string& code, const ClientInfo& client,
                                     const std::string& login_id);
  std::string now() const;
  void count(LoginOutcome o) {
    outcomes_[static_cast<std::size_t>(o)].fetch_add(1, std::memory_order_relaxed);
    if (login_outcome_) login_outcome_(o);
  }
  std::array<std::atomic<std::uint64_t>, kLoginOutcomes> outcomes_{};

  db::Database& db_;
  const Clock& clock_;
  const AuthSettings& settings_;
  JwtCodec jwt_;
  SessionManager sessions_;
  Lockout lockout_;
  MfaVault vault_;
  std::string dummy_hash_;
  std::counting_semaphore<> hash_slots_;
  std::function<void()> mail_queued_;
  std::function<void(LoginOutcome)> login_outcome_;
};

}  // namespace evald::auth
