#include "auth/jwt.hpp"

#include <sodium.h>

#include <boost/json.hpp>

namespace evald::auth {
namespace {

namespace json = boost::json;

ApiError rejected(std::string why) {
  ApiError e = ApiError::auth_failed("Invalid or expired token");
  e.internal_detail = std::move(why);
  return e;
}

std::int64_t now_seconds(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::seconds>(clock.now().time_since_epoch()).count();
}

// The header is fixed: a token whose header differs in any way is not ours.
constexpr std::string_view kHeader = R"({"alg":"HS256","typ":"JWT"})";

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  const std::size_t len =
      sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  std::string out(len, '\0');
  sodium_bin2base64(out.data(), len, reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(len - 1);  // the terminating NUL
  return out;
}

bool base64url_decode(std::string_view text, std::string& out) {
  out.assign(text.size(), '\0');
  std::size_t n = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &n, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size()) {
    return false;
  }
  out.resize(n);
  return true;
}

JwtCodec::JwtCodec(std::string secret, const Clock& clock, std::vector<std::string> previous)
    : secret_(std::move(secret)), previous_(std::move(previous)), clock_(clock) {}

std::string JwtCodec::sign(std::string_view input, const std::string& secret) const {
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret.data()),
                              secret.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(input.data()),
                                input.size());
  crypto_auth_hmacsha256_final(&st, mac);
  return std::string(reinterpret_cast<const char*>(mac), sizeof mac);
}

std::string JwtCodec::issue(const std::string& user_id, const std::string& role,
                            const std::string& session_id, std::chrono::seconds lifetime) const {
  const auto iat = now_seconds(clock_);
  json::object payload;
  payload["sub"] = user_id;
  payload["role"] = role;
  payload["sid"] = session_id;
  payload["iat"] = iat;
  payload["exp"] = iat + lifetime.count();
  std::string input = base64url_encode(kHeader) + "." + base64url_encode(json::serialize(payload));
  return input + "." + base64url_encode(sign(input, secret_));
}

Result<Claims> JwtCodec::verify(std::string_view token) const {
  if (token.size() > 4096) return rejected("token too long");
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return rejected("not three parts");
  }
  std::string header, payload, signature;
  if (!base64url_decode(token.substr(0, dot1), header) ||
      !base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1), payload) ||
      !base64url_decode(token.substr(dot2 + 1), signature)) {
    return rejected("bad base64url");
  }
  // Only our exact header: "alg":"none", "HS512", "RS256" or a "kid" are all refused before
  // any signature check, so no other algorithm can ever be selected by the token.
  json::error_code ec;
  json::value h = json::parse(header, ec);
  if (ec || !h.is_object() || h.as_object().size() != 2 || !h.as_object().contains("alg") ||
      h.at("alg") != "HS256" || !h.as_object().contains("typ") || h.at("typ") != "JWT") {
    return rejected("unexpected header");
  }
  const std::string_view input = token.substr(0, dot2);
  auto matches = [&](const std::string& secret) {
    const std::string expected = sign(input, secret);
    return signature.size() == expected.size() &&
           sodium_memcmp(signature.data(), expected.data(), expected.size()) == 0;
  };
  bool valid = matches(secret_);
  for (const auto& previous : previous_) valid = valid || matches(previous);
  if (!valid) return rejected("bad signature");

  json::value p = json::parse(payload, ec);
  if (ec || !p.is_object()) return rejected("payload is not an object");
  const auto& o = p.as_object();
  auto str = [&](const char* k) -> const json::string* {
    const auto* v = o.if_contains(k);
    return v && v->is_string() ? &v->as_string() : nullptr;
  };
  auto num = [&](const char* k) -> std::optional<std::int64_t> {
    const auto* v = o.if_contains(k);
    if (v && v->is_int64()) return v->as_int64();
    return std::nullopt;
  };
  const auto* sub = str("sub");
  const auto* role = str("role");
  const auto* sid = str("sid");
  const auto iat = num("iat");
  const auto exp = num("exp");
  if (!sub || !role || !sid || !iat || !exp) return rejected("missing claims");
  const auto now = now_seconds(clock_);
  if (now >= *exp) return rejected("expired");
  if (*iat > now + kLeeway.count()) return rejected("issued in the future");
  return Claims{std::string(*sub), std::string(*role), std::string(*sid), *iat, *exp};
}

}  // namespace evald::auth
