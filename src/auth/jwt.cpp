#include "auth/jwt.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include <array>
#include <boost/json.hpp>
#include <stdexcept>

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

constexpr std::size_t kMacBytes = 32;
// base64url of 32 bytes, without padding.
constexpr std::size_t kEncodedMacChars = 43;

}  // namespace

// OpenSSL's HMAC (SHA-NI/AVX code paths) keyed once: each MAC copies the keyed state instead of
// hashing the padded key again. Verification runs on every authenticated request.
class JwtCodec::Key {
 public:
  explicit Key(const std::string& secret) {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    ctx_ = mac ? EVP_MAC_CTX_new(mac) : nullptr;
    EVP_MAC_free(mac);  // the context keeps its own reference
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_END};
    if (!ctx_ || EVP_MAC_init(ctx_, reinterpret_cast<const unsigned char*>(secret.data()),
                              secret.size(), params) != 1) {
      EVP_MAC_CTX_free(ctx_);
      throw std::runtime_error("OpenSSL HMAC-SHA256 is unavailable");
    }
  }
  ~Key() { EVP_MAC_CTX_free(ctx_); }
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;

  /// The raw 32-byte MAC of `input`; thread-safe (the keyed state is only read).
  std::array<unsigned char, kMacBytes> mac(std::string_view input) const {
    std::array<unsigned char, kMacBytes> out{};
    EVP_MAC_CTX* c = EVP_MAC_CTX_dup(ctx_);
    std::size_t n = 0;
    const bool ok = c &&
                    EVP_MAC_update(c, reinterpret_cast<const unsigned char*>(input.data()),
                                   input.size()) == 1 &&
                    EVP_MAC_final(c, out.data(), &n, out.size()) == 1 && n == out.size();
    EVP_MAC_CTX_free(c);
    if (!ok) throw std::runtime_error("HMAC-SHA256 failed");
    return out;
  }

  /// base64url of the MAC, as it appears as a token's third part.
  std::string encoded_mac(std::string_view input) const {
    const auto raw = mac(input);
    return base64url_encode(
        std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
  }

 private:
  EVP_MAC_CTX* ctx_ = nullptr;
};

std::string base64url_encode(std::string_view bytes) {
  const std::size_t len =
      sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  std::string out(len, '\0');
  sodium_bin2base64(out.data(), len, reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(len - 1);  // the terminating NUL
  return out;
}

// OpenSSL's table decoder (libsodium's is constant-time, which nothing decoded here needs, and
// several times slower): the URL-safe alphabet is mapped to the standard one and padded first.
bool base64url_decode(std::string_view text, std::string& out) {
  if (text.size() % 4 == 1 || text.size() > (std::size_t{1} << 30)) return false;
  std::string standard;
  standard.reserve(text.size() + 3);
  for (const char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      standard += c;
    } else if (c == '-') {
      standard += '+';
    } else if (c == '_') {
      standard += '/';
    } else {
      return false;  // padding, whitespace, the standard alphabet's + and /
    }
  }
  // Only the canonical text: the unused low bits of the last character must be zero, so that
  // one byte string has one encoding (OpenSSL ignores them).
  if (const std::size_t rem = text.size() % 4; rem != 0) {
    const char c = text.back();
    const int v = c == '-'   ? 62
                  : c == '_' ? 63
                  : c >= 'a' ? c - 'a' + 26
                  : c >= 'A' ? c - 'A'
                             : c - '0' + 52;
    if ((v & (rem == 2 ? 0x0f : 0x03)) != 0) return false;
  }
  const std::size_t pad = (4 - text.size() % 4) % 4;
  standard.append(pad, '=');
  out.resize(standard.size() / 4 * 3);
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(standard.data()),
                                static_cast<int>(standard.size()));
  if (n < 0) return false;
  out.resize(static_cast<std::size_t>(n) - pad);  // it counts the padding as zero bytes
  return true;
}

JwtCodec::JwtCodec(std::string secret, const Clock& clock, std::vector<std::string> previous)
    : clock_(clock) {
  keys_.push_back(std::make_shared<const Key>(secret));
  for (const auto& p : previous) keys_.push_back(std::make_shared<const Key>(p));
  sodium_memzero(secret.data(), secret.size());
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
  return input + "." + keys_.front()->encoded_mac(input);
}

Result<Claims> JwtCodec::verify(std::string_view token) const {
  if (token.size() > 4096) return rejected("token too long");
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return rejected("not three parts");
  }
  // Only our exact header: "alg":"none", "HS512", "RS256" or a "kid" are all refused before
  // any signature check, so no other algorithm can ever be selected by the token.
  static const std::string kEncodedHeader = base64url_encode(kHeader);
  if (token.substr(0, dot1) != kEncodedHeader) return rejected("unexpected header");
  // The signature is compared as text, in constant time: only the canonical encoding of the
  // right MAC passes, so a token has exactly one valid form.
  const std::string_view input = token.substr(0, dot2);
  const std::string_view signature = token.substr(dot2 + 1);
  if (signature.size() != kEncodedMacChars) return rejected("bad signature");
  bool valid = false;
  for (const auto& key : keys_) {
    const std::string expected = key->encoded_mac(input);
    valid = sodium_memcmp(signature.data(), expected.data(), kEncodedMacChars) == 0 || valid;
  }
  if (!valid) return rejected("bad signature");

  std::string payload;
  if (!base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1), payload)) {
    return rejected("bad base64url");
  }
  json::error_code ec;
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
