#pragma once
/// RFC 6238 TOTP (HMAC-SHA1, 6 digits, 30 s steps) and RFC 4648 base32, for MFA.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"

namespace evald::auth {

constexpr std::int64_t kTotpStepSeconds = 30;
constexpr int kTotpDigits = 6;

std::string base32_encode(std::string_view bytes);  ///< upper case, no padding
std::optional<std::string> base32_decode(std::string_view text);

/// The code of one time step.
std::string totp_at(std::string_view secret, std::int64_t step);
std::int64_t totp_step(SystemTime t);

/// The step whose code matches, trying one step before and after `now` (clock drift);
/// compared in constant time. nullopt when none matches.
std::optional<std::int64_t> totp_match(std::string_view secret, std::string_view code,
                                       SystemTime now);

/// otpauth://totp/ISSUER:LABEL?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30
std::string otpauth_uri(std::string_view secret, std::string_view issuer, std::string_view label);

/// A PNG of the QR code of `text`, as a data:image/png;base64 URI.
std::string qr_png_data_uri(std::string_view text);

}  // namespace evald::auth
