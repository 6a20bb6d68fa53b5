// The access-token codec (src/auth/jwt.*): verification of arbitrary text, and of tokens whose
// header and payload are arbitrary but whose signature is right (the fuzzer cannot forge
// HMAC-SHA256, so the harness signs them: otherwise nothing past the signature check would be
// reached), and base64url both ways.
//
// The first byte picks the mode; the rest is the input:
//   'T' token text, verified as is (also after the "Bearer " the authentication layer strips)
//   'S' header and payload JSON separated by a newline; signed with the current or the previous
//       secret (the next byte's low bit), then verified
//   'I' claims sub, role and sid separated by newlines, then the lifetime in seconds as text:
//       issued, then verified (must give back the same claims while unexpired)
//   anything else: base64url round trip (decode(encode(x)) == x; encode(decode(t)) == t)
//
// Properties: no crash or UB; a token verifies only with the exact header
// {"alg":"HS256","typ":"JWT"}, all five claims and exp after now; claims round-trip.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <sodium.h>

#include <boost/json.hpp>

#include "auth/jwt.hpp"
#include "common/scratch.hpp"
#include "core/clock.hpp"

namespace {

using namespace evald;
using fuzz::broken;

const std::string kSecret = "fuzzing-secret-0123456789abcdef0123456789";
const std::string kPrevious = "previous-secret-0123456789abcdef012345678";
// ManualClock starts at 1'700'000'000 s (2023-11-14).
const ManualClock kClock;
const auth::JwtCodec kCodec(kSecret, kClock, {kPrevious});

// HS256 over "b64(header).b64(payload)": what a holder of `key` would send.
std::string hmac_token(std::string_view header, std::string_view payload, const std::string& key) {
  const std::string input = auth::base64url_encode(header) + "." + auth::base64url_encode(payload);
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(input.data()),
                                input.size());
  crypto_auth_hmacsha256_final(&st, mac);
  return input + "." +
         auth::base64url_encode(std::string_view(reinterpret_cast<const char*>(mac), sizeof mac));
}

// True when `s` survives JSON as a string (valid UTF-8): the only claims issue() is given.
bool json_safe(const std::string& s) {
  return fuzz::is_valid_json(boost::json::serialize(boost::json::string(s)));
}

void check_claims(const auth::Claims& c, std::string_view context) {
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(kClock.now().time_since_epoch()).count();
  if (c.expires_at <= now) broken("an expired token verified", context);
  if (c.issued_at > now + auth::JwtCodec::kLeeway.count()) {
    broken("a token issued in the future verified", context);
  }
}

void verify_text(std::string_view token) {
  if (auto c = kCodec.verify(token)) check_claims(*c, token);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const char mode = static_cast<char>(data[0]);
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (mode) {
    case 'T': {
      verify_text(in);
      constexpr std::string_view kScheme = "Bearer ";
      if (in.substr(0, kScheme.size()) == kScheme) verify_text(in.substr(kScheme.size()));
      break;
    }
    case 'S': {
      if (in.empty()) break;
      const std::string& key = (static_cast<unsigned char>(in[0]) & 1) ? kPrevious : kSecret;
      in.remove_prefix(1);
      const auto nl = in.find('\n');
      const auto header = in.substr(0, nl);
      const auto payload = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
      const std::string token = hmac_token(header, payload, key);
      auto c = kCodec.verify(token);
      if (c) {
        check_claims(*c, token);
        boost::system::error_code ec;
        const auto h = boost::json::parse(header, ec);
        if (ec || h != boost::json::parse(R"({"alg":"HS256","typ":"JWT"})")) {
          broken("a token with another header verified", token);
        }
      }
      // Signed with an unknown key, nothing verifies.
      if (kCodec.verify(hmac_token(header, payload, "an-unknown-key-0123456789abcdef01234"))) {
        broken("a token signed with an unknown key verified", token);
      }
      break;
    }
    case 'I': {
      std::string parts[4];
      std::size_t k = 0;
      for (char c : in) {
        if (c == '\n' && k < 3) {
          ++k;
        } else {
          parts[k] += c;
        }
      }
      long long lifetime = 0;
      for (char c : parts[3]) {
        if (c < '0' || c > '9' || lifetime > 1'000'000'000'000LL) break;
        lifetime = lifetime * 10 + (c - '0');
      }
      if (!json_safe(parts[0]) || !json_safe(parts[1]) || !json_safe(parts[2])) break;
      const std::string token =
          kCodec.issue(parts[0], parts[1], parts[2], std::chrono::seconds(lifetime));
      auto c = kCodec.verify(token);
      if (token.size() > 4096) {
        if (c) broken("a token over 4096 bytes verified", token);
      } else if (lifetime > 0) {
        if (!c) broken("an issued token does not verify: " + c.error().internal_detail, token);
        if (c->user_id != parts[0] || c->role != parts[1] || c->session_id != parts[2]) {
          broken("claims do not round-trip", token);
        }
      } else if (c) {
        broken("a token with no lifetime verified", token);
      }
      break;
    }
    default: {
      const std::string enc = auth::base64url_encode(in);
      std::string dec;
      if (!auth::base64url_decode(enc, dec) || dec != in) broken("base64url does not round-trip");
      if (auth::base64url_decode(in, dec) && auth::base64url_encode(dec) != in) {
        // Non-canonical trailing bits decode but encode differently; libsodium refuses them.
        broken("base64url accepted a non-canonical text", std::string(in));
      }
      break;
    }
  }
  return 0;
}
