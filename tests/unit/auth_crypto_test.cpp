#include <gtest/gtest.h>

#include <sodium.h>

#include <boost/json.hpp>

#include "auth/jwt.hpp"
#include "auth/password.hpp"

namespace evald::auth {
namespace {

using namespace std::chrono_literals;

// Cheaper parameters keep the unit tests fast; the defaults are checked separately.
const HashParams kFast{1, 8 * 1024};

TEST(Password, HashesWithArgon2idAndVerifies) {
  const auto h = hash_password("correct horse battery staple", kFast);
  EXPECT_EQ(h.rfind("$argon2id$v=19$", 0), 0u);
  EXPECT_TRUE(verify_password("correct horse battery staple", h));
  EXPECT_FALSE(verify_password("correct horse battery stapl", h));
  EXPECT_FALSE(verify_password("", h));
  // Salted: the same password hashes differently each time.
  EXPECT_NE(h, hash_password("correct horse battery staple", kFast));
}

TEST(Password, DefaultsMeetOwaspMinimum) {
  const auto h = hash_password("pw-for-defaults");
  EXPECT_NE(h.find("m=19456,t=2,p=1"), std::string::npos) << h;
  EXPECT_FALSE(needs_rehash(h));
  EXPECT_TRUE(needs_rehash(hash_password("pw", kFast)));
}

TEST(Password, MalformedHashesNeverVerify) {
  EXPECT_FALSE(verify_password("x", ""));
  EXPECT_FALSE(verify_password("x", "plaintext"));
  EXPECT_FALSE(verify_password("x", "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA"));
  EXPECT_FALSE(verify_password("x", "$2b$12$abcdefghijklmnopqrstuv"));
}

TEST(Base64url, RoundTripsAndRejectsOtherAlphabets) {
  std::string out;
  for (const std::string s : {"", "f", "fo", "foo", "\xff\xfe\x00\x01"}) {
    ASSERT_TRUE(base64url_decode(base64url_encode(s), out));
    EXPECT_EQ(out, s);
  }
  // Every length, so that each padding case of the decoder is taken.
  std::string bytes;
  for (int n = 0; n < 70; ++n) {
    ASSERT_TRUE(base64url_decode(base64url_encode(bytes), out)) << n;
    EXPECT_EQ(out, bytes) << n;
    bytes += static_cast<char>(n * 37 + 250);
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_FALSE(base64url_decode("+/8", out));
  EXPECT_FALSE(base64url_decode("Zm9v=", out));
  EXPECT_FALSE(base64url_decode(" Zm9v", out));
  EXPECT_FALSE(base64url_decode("Zm9v\n", out));
  EXPECT_FALSE(base64url_decode("Zm9vY", out));  // a lone sixth of a byte
  EXPECT_FALSE(base64url_decode("Zh", out));     // "f" is "Zg": the unused bits must be zero
  EXPECT_FALSE(base64url_decode("Zm9", out));    // "fo" is "Zm8"
  EXPECT_FALSE(base64url_decode("__", out));     // 63: low bits set
  ASSERT_TRUE(base64url_decode("_w", out));      // 0xff
  EXPECT_EQ(out, "\xff");
  EXPECT_FALSE(base64url_decode(std::string_view("Zm\0v", 4), out));
}

class Jwt : public ::testing::Test {
 protected:
  ManualClock clock;
  JwtCodec codec{std::string(40, 'k'), clock};
};

TEST_F(Jwt, IssuesAndVerifies) {
  const auto t = codec.issue("u1", "admin", "s1", 60min);
  auto c = codec.verify(t);
  ASSERT_TRUE(c.ok()) << c.error().internal_detail;
  EXPECT_EQ(c->user_id, "u1");
  EXPECT_EQ(c->role, "admin");
  EXPECT_EQ(c->session_id, "s1");
  EXPECT_EQ(c->expires_at - c->issued_at, 3600);
}

TEST_F(Jwt, ExpiresByTheClock) {
  const auto t = codec.issue("u1", "admin", "s1", 60min);
  clock.advance(59min);
  EXPECT_TRUE(codec.verify(t).ok());
  clock.advance(1min);
  auto r = codec.verify(t);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kAuthFailed);
  EXPECT_EQ(r.error().internal_detail, "expired");
}

TEST_F(Jwt, RejectsAnotherKey) {
  JwtCodec other(std::string(40, 'x'), clock);
  EXPECT_FALSE(codec.verify(other.issue("u1", "admin", "s1", 60min)).ok());
}

std::string forge(std::string_view header, std::string_view payload, std::string_view sig) {
  return base64url_encode(header) + "." + base64url_encode(payload) + "." + base64url_encode(sig);
}

TEST_F(Jwt, RejectsAlgNoneAndOtherAlgorithms) {
  const std::string payload =
      R"({"sub":"u1","role":"admin","sid":"s1","iat":1700000000,"exp":9999999999})";
  for (const char* header : {R"({"alg":"none","typ":"JWT"})", R"({"alg":"HS512","typ":"JWT"})",
                             R"({"alg":"RS256","typ":"JWT"})", R"({"alg":"hs256","typ":"JWT"})",
                             R"({"alg":"HS256","typ":"JWT","kid":"x"})", R"({"alg":"HS256"})"}) {
    EXPECT_FALSE(codec.verify(forge(header, payload, "")).ok()) << header;
    EXPECT_FALSE(codec.verify(forge(header, payload, "sig")).ok()) << header;
  }
  // "alg":"none" with an empty signature part and no trailing segment.
  EXPECT_FALSE(
      codec.verify(base64url_encode(R"({"alg":"none"})") + "." + base64url_encode(payload) + ".")
          .ok());
}

TEST_F(Jwt, RejectsTampering) {
  const auto t = codec.issue("u1", "evaluator", "s1", 60min);
  const auto dot1 = t.find('.');
  const auto dot2 = t.find('.', dot1 + 1);
  std::string payload;
  ASSERT_TRUE(base64url_decode(t.substr(dot1 + 1, dot2 - dot1 - 1), payload));
  const auto pos = payload.find("evaluator");
  payload.replace(pos, 9, "admin");
  const auto tampered = t.substr(0, dot1 + 1) + base64url_encode(payload) + t.substr(dot2);
  auto r = codec.verify(tampered);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().internal_detail, "bad signature");
  // A flipped signature character, a missing part, junk.
  std::string flipped = t;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(codec.verify(flipped).ok());
  EXPECT_FALSE(codec.verify(t.substr(0, dot2)).ok());
  EXPECT_FALSE(codec.verify("").ok());
  EXPECT_FALSE(codec.verify("a.b.c.d").ok());
  EXPECT_FALSE(codec.verify(std::string(5000, 'a')).ok());
  // The same header with its members in another order is not ours.
  const auto reordered = base64url_encode(R"({"typ":"JWT","alg":"HS256"})") + t.substr(dot1);
  r = codec.verify(reordered);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().internal_detail, "unexpected header");
}

// Signs any payload with the codec's key, computed independently with libsodium's HMAC.
std::string sign_independently(const std::string& payload, const std::string& key) {
  const std::string input =
      base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url_encode(payload);
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(input.data()),
                                input.size());
  crypto_auth_hmacsha256_final(&st, mac);
  return input + "." + base64url_encode(std::string(reinterpret_cast<char*>(mac), sizeof mac));
}

TEST_F(Jwt, IndependentSignatureIsAccepted) {
  const std::int64_t now = 1'700'000'000;
  auto r = codec.verify(sign_independently(
      R"({"sub":"u9","role":"secretary","sid":"s9","iat":1700000000,"exp":1700000600})",
      std::string(40, 'k')));
  ASSERT_TRUE(r.ok()) << r.error().internal_detail;
  EXPECT_EQ(r->user_id, "u9");
  EXPECT_EQ(r->issued_at, now);
}

TEST_F(Jwt, RejectsMissingOrMistypedClaimsEvenWhenSigned) {
  const std::string key(40, 'k');
  for (const char* payload : {
           R"([])",
           R"({"role":"admin","sid":"s","iat":1700000000,"exp":1700000600})",
           R"({"sub":"u","sid":"s","iat":1700000000,"exp":1700000600})",
           R"({"sub":"u","role":"admin","iat":1700000000,"exp":1700000600})",
           R"({"sub":"u","role":"admin","sid":"s","exp":1700000600})",
           R"({"sub":"u","role":"admin","sid":"s","iat":1700000000})",
           R"({"sub":1,"role":"admin","sid":"s","iat":1700000000,"exp":1700000600})",
           R"({"sub":"u","role":"admin","sid":"s","iat":1700000000,"exp":"1700000600"})",
           R"({"sub":"u","role":"admin","sid":"s","iat":1700000000,"exp":1.7e9})",
       }) {
    auto r = codec.verify(sign_independently(payload, key));
    ASSERT_FALSE(r.ok()) << payload;
    EXPECT_NE(r.error().internal_detail, "bad signature") << payload;
  }
}

TEST_F(Jwt, PreviousSecretStillVerifiesButNeverSigns) {
  JwtCodec old_codec(std::string(40, 'o'), clock);
  const auto old_token = old_codec.issue("u1", "admin", "s1", 60min);
  JwtCodec rotated(std::string(40, 'n'), clock, {std::string(40, 'o')});
  EXPECT_TRUE(rotated.verify(old_token).ok());
  const auto fresh = rotated.issue("u1", "admin", "s1", 60min);
  EXPECT_FALSE(old_codec.verify(fresh).ok());
  EXPECT_TRUE(JwtCodec(std::string(40, 'n'), clock).verify(fresh).ok());
}

TEST_F(Jwt, TokensFromTheFutureAreRejected) {
  ManualClock ahead;
  ahead.advance(10min);
  JwtCodec future(std::string(40, 'k'), ahead);
  EXPECT_FALSE(codec.verify(future.issue("u1", "admin", "s1", 60min)).ok());
  ManualClock slightly;
  slightly.advance(10s);  // within the leeway between instances
  JwtCodec near(std::string(40, 'k'), slightly);
  EXPECT_TRUE(codec.verify(near.issue("u1", "admin", "s1", 60min)).ok());
}

}  // namespace
}  // namespace evald::auth
