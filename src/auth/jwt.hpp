#pragma once
/// Access tokens: JWT, HS256 only. Verification rejects every other algorithm ("none"
/// included), bad signatures (constant-time comparison), malformed tokens, and tokens outside
/// their lifetime by the injected clock.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace evald::auth {

struct Claims {
  std::string user_id;          ///< sub
  std::string role;             ///< role
  std::string session_id;       ///< sid
  std::int64_t issued_at = 0;   ///< iat, seconds since the epoch
  std::int64_t expires_at = 0;  ///< exp
};

class JwtCodec {
 public:
  /// `previous_secrets`: still accepted for verification (secret rotation); never used to sign.
  JwtCodec(std::string secret, const Clock& clock, std::vector<std::string> previous_secrets = {});

  std::string issue(const std::string& user_id, const std::string& role,
                    const std::string& session_id, std::chrono::seconds lifetime) const;
  /// AUTH_FAILED with a reason for the log (the client sees one generic message).
  Result<Claims> verify(std::string_view token) const;

  /// Tolerated clock difference between instances for iat.
  static constexpr std::chrono::seconds kLeeway{30};

 private:
  class Key;  ///< an HMAC-SHA256 key, prepared once (OpenSSL)

  std::vector<std::shared_ptr<const Key>> keys_;  ///< [0] signs; all verify
  const Clock& clock_;
};

/// base64url without padding.
std::string base64url_encode(std::string_view bytes);
/// false on characters outside the alphabet.
bool base64url_decode(std::string_view text, std::string& out);

}  // namespace evald::auth
