#pragma once
// The documented answers of /auth (schemas and examples, as JSON text): what the handlers of
// auth_routes.cpp and security_events_routes.cpp send. Included by those two files only.

namespace evald::api::auth_docs {

inline constexpr const char* kUserSchema =
    R"({"type":"object","required":["id","login_id","email","user_name","phone","role","is_active",
  "created_at","last_login"],
  "properties":{"id":{"type":"string"},"login_id":{"type":"string"},"email":{"type":"string"},
  "user_name":{"type":"string"},"phone":{"type":["string","null"]},
  "role":{"type":"string","enum":["admin","secretary","evaluator"]},"is_active":{"type":"boolean"},
  "created_at":{"type":"string","format":"date-time"},
  "last_login":{"type":["string","null"],"format":"date-time"}}})";

inline constexpr const char* kUserExample = R"({"id":"0b0f5a8e-5c55-4a8e-9d7c-2f1f4d1c9a10",
  "login_id":"kim.evaluator","email":"kim@example.org","user_name":"김평가","phone":null,
  "role":"evaluator","is_active":true,"created_at":"2026-03-01T09:00:00.000Z",
  "last_login":"2026-03-02T08:15:00.000Z"})";

inline constexpr const char* kLoginExample =
    R"({"access_token":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIwYjBm...",
  "token_type":"bearer","expires_in":3600,"user":{"id":"0b0f5a8e-5c55-4a8e-9d7c-2f1f4d1c9a10",
  "login_id":"kim.evaluator","email":"kim@example.org","user_name":"김평가","phone":null,
  "role":"evaluator","is_active":true,"created_at":"2026-03-01T09:00:00.000Z",
  "last_login":"2026-03-02T08:15:00.000Z"}})";

/// {"<name>": <value>} with exactly that one property: the flag answers of logout and friends.
inline constexpr const char* kLoggedOut =
    R"({"type":"object","required":["logged_out"],"additionalProperties":false,
  "properties":{"logged_out":{"const":true}}})";
inline constexpr const char* kPasswordChanged =
    R"({"type":"object","required":["password_changed"],"additionalProperties":false,
  "properties":{"password_changed":{"const":true}}})";
inline constexpr const char* kPasswordReset =
    R"({"type":"object","required":["password_reset"],"additionalProperties":false,
  "properties":{"password_reset":{"const":true}}})";
inline constexpr const char* kMfaEnabled =
    R"({"type":"object","required":["mfa_enabled"],"additionalProperties":false,
  "properties":{"mfa_enabled":{"const":true}}})";
inline constexpr const char* kMfaDisabled =
    R"({"type":"object","required":["mfa_enabled"],"additionalProperties":false,
  "properties":{"mfa_enabled":{"const":false}}})";

inline constexpr const char* kResetRequested =
    R"({"type":"object","required":["message"],"additionalProperties":false,
  "properties":{"message":{"type":"string"}}})";
inline constexpr const char* kResetRequestedExample =
    R"({"message":"If the email belongs to an account, a reset link has been sent to it"})";

inline constexpr const char* kSessionSchema =
    R"({"type":"object","required":["session_id","user_id","created_at","last_activity",
  "expires_at","ip_address","user_agent","is_active","is_current"],
  "properties":{"session_id":{"type":"string","description":"public id: SHA-256 (hex) of the token's session"},
  "user_id":{"type":"string"},"created_at":{"type":"string","format":"date-time"},
  "last_activity":{"type":"string","format":"date-time"},
  "expires_at":{"type":"string","format":"date-time","description":"when it ends unless used again"},
  "ip_address":{"type":"string"},"user_agent":{"type":"string"},"is_active":{"type":"boolean"},
  "is_current":{"type":"boolean","description":"the session of this request's token"}}})";

inline constexpr const char* kSessionExample =
    R"({"session_id":"9c56cc51b374c3ba189210d5b6d4bf57790d351c96c47c02190ecf1e430635ab",
  "user_id":"0b0f5a8e-5c55-4a8e-9d7c-2f1f4d1c9a10","created_at":"2026-03-02T08:15:00.000Z",
  "last_activity":"2026-03-02T09:40:12.000Z","expires_at":"2026-03-03T09:40:12.000Z",
  "ip_address":"203.0.113.7","user_agent":"Mozilla/5.0","is_active":true,"is_current":true})";

inline constexpr const char* kSessionRevoked =
    R"({"type":"object","required":["revoked","session_id"],"additionalProperties":false,
  "properties":{"revoked":{"const":true},"session_id":{"type":"string"}}})";
inline constexpr const char* kSessionRevokedExample =
    R"({"revoked":true,"session_id":"9c56cc51b374c3ba189210d5b6d4bf57790d351c96c47c02190ecf1e430635ab"})";

inline constexpr const char* kSessionsRevoked =
    R"({"type":"object","required":["revoked"],"additionalProperties":false,
  "properties":{"revoked":{"type":"integer","minimum":0,"description":"how many sessions ended"}}})";

inline constexpr const char* kLockoutSchema =
    R"({"type":"object","required":["login_id","is_locked","lockout_until","failed_attempts",
  "remaining_attempts"],"additionalProperties":false,
  "properties":{"login_id":{"type":"string"},"is_locked":{"type":"boolean"},
  "lockout_until":{"type":["string","null"],"format":"date-time"},
  "failed_attempts":{"type":"integer","minimum":0,"description":"since the last success or unlock"},
  "remaining_attempts":{"type":"integer","minimum":0,"description":"before the login id is locked"}}})";
inline constexpr const char* kLockoutExample =
    R"({"login_id":"kim.evaluator","is_locked":true,"lockout_until":"2026-03-02T09:10:00.000Z",
  "failed_attempts":5,"remaining_attempts":0})";

inline constexpr const char* kUnlocked =
    R"({"type":"object","required":["login_id","unlocked"],"additionalProperties":false,
  "properties":{"login_id":{"type":"string"},"unlocked":{"const":true}}})";

inline constexpr const char* kMfaSetupSchema =
    R"({"type":"object","required":["secret","otpauth_uri","qr_code","backup_codes"],
  "additionalProperties":false,
  "properties":{"secret":{"type":"string","description":"base32, for manual entry"},
  "otpauth_uri":{"type":"string","pattern":"^otpauth://totp/"},
  "qr_code":{"type":"string","pattern":"^data:image/png;base64,","description":"the URI as a PNG"},
  "backup_codes":{"type":"array","minItems":10,"maxItems":10,
  "items":{"type":"string","pattern":"^[A-Z2-7]{5}-[A-Z2-7]{5}$"},
  "description":"single use; shown only now"}}})";
inline constexpr const char* kMfaSetupExample =
    R"({"secret":"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
  "otpauth_uri":"otpauth://totp/evald:kim.evaluator?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=evald&algorithm=SHA1&digits=6&period=30",
  "qr_code":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA...",
  "backup_codes":["ABCDE-FGHIJ","KLMNO-PQRS2","TUVWX-YZ234","A5B6C-D7E2F","GHIJK-LMNOP",
  "QRSTU-VWXYZ","2345A-BCDEF","G6H7I-JKLMN","OPQRS-TUVW2","XYZ34-567AB"]})";

inline constexpr const char* kEventSchema =
    R"({"type":"object","required":["id","event_type","user_id","login_id","ip_address",
  "user_agent","request_id","details","created_at"],"additionalProperties":false,
  "properties":{"id":{"type":"string"},
  "event_type":{"type":"string","description":"authn_login_success, authn_login_fail, authn_login_lock, session_revoked, authn_password_change, ..."},
  "user_id":{"type":["string","null"]},"login_id":{"type":["string","null"]},
  "ip_address":{"type":["string","null"]},"user_agent":{"type":["string","null"]},
  "request_id":{"type":["string","null"]},"details":{"type":["string","null"]},
  "created_at":{"type":"string","format":"date-time"}}})";
inline constexpr const char* kEventExample =
    R"({"id":"3e1f0c55-7a2b-4c1d-8e9f-0a1b2c3d4e5f","event_type":"authn_login_fail",
  "user_id":"0b0f5a8e-5c55-4a8e-9d7c-2f1f4d1c9a10","login_id":"kim.evaluator",
  "ip_address":"203.0.113.7","user_agent":"Mozilla/5.0",
  "request_id":"5f0c6e1d9a7b4c3e8d2f1a0b9c8d7e6f","details":"wrong password",
  "created_at":"2026-03-02T08:14:55.000Z"})";

}  // namespace evald::api::auth_docs
