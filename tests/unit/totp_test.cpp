#include "auth/totp.hpp"

#include <gtest/gtest.h>

#include <set>

#include "auth/mfa.hpp"

namespace evald::auth {
namespace {

using namespace std::chrono_literals;

// RFC 6238 appendix B, SHA-1, with the 20-byte key "12345678901234567890" (8 digits there;
// the last 6 of each are the 6-digit codes).
TEST(Totp, MatchesRfc6238Vectors) {
  const std::string key = "12345678901234567890";
  struct V {
    std::int64_t t;
    const char* code;
  };
  for (const V& v : {V{59, "287082"}, V{1111111109, "081804"}, V{1111111111, "050471"},
                     V{1234567890, "005924"}, V{2000000000, "279037"}, V{20000000000, "353130"}}) {
    EXPECT_EQ(totp_at(key, v.t / 30), v.code) << v.t;
  }
}

TEST(Totp, AcceptsOneStepOfDriftAndNoMore) {
  const std::string key = "12345678901234567890";
  const SystemTime now{std::chrono::seconds{1111111111}};
  const auto step = totp_step(now);
  EXPECT_EQ(totp_match(key, totp_at(key, step), now), step);
  EXPECT_EQ(totp_match(key, totp_at(key, step - 1), now), step - 1);
  EXPECT_EQ(totp_match(key, totp_at(key, step + 1), now), step + 1);
  EXPECT_FALSE(totp_match(key, totp_at(key, step - 2), now));
  EXPECT_FALSE(totp_match(key, totp_at(key, step + 2), now));
  EXPECT_FALSE(totp_match(key, "12345", now));
  EXPECT_FALSE(totp_match(key, "1234567", now));
}

TEST(Base32, RoundTripsRfc4648Vectors) {
  EXPECT_EQ(base32_encode("foobar"), "MZXW6YTBOI");
  EXPECT_EQ(base32_encode("f"), "MY");
  EXPECT_EQ(base32_decode("MZXW6YTBOI").value(), "foobar");
  EXPECT_EQ(base32_decode("mzxw6ytboi======").value(), "foobar");
  EXPECT_FALSE(base32_decode("MZXW1").has_value());  // 1 is not in the alphabet
}

TEST(Totp, OtpauthUriAndQr) {
  const auto uri = otpauth_uri("12345678901234567890", "Online Evaluation System", "kim@예시.kr");
  EXPECT_EQ(uri.rfind("otpauth://totp/Online%20Evaluation%20System:kim%40", 0), 0u) << uri;
  EXPECT_NE(uri.find("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"), std::string::npos);
  EXPECT_NE(uri.find("&issuer=Online%20Evaluation%20System"), std::string::npos);
  const auto qr = qr_png_data_uri(uri);
  ASSERT_EQ(qr.rfind("data:image/png;base64,iVBORw0KGgo", 0), 0u);  // the PNG signature
}

TEST(MfaVault, SealsAndDetectsTampering) {
  MfaVault vault("a key material of enough length!!");
  const auto sealed = vault.seal("secret-bytes");
  EXPECT_EQ(sealed.find("secret-bytes"), std::string::npos);
  EXPECT_NE(vault.seal("secret-bytes"), sealed);  // a fresh nonce each time
  EXPECT_EQ(vault.open(sealed).value(), "secret-bytes");
  std::string tampered = sealed;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(vault.open(tampered).has_value());
  EXPECT_FALSE(MfaVault("another key material of enough len").open(sealed).has_value());
}

TEST(BackupCodes, AreTenDistinctFiftyBitCodes) {
  const auto codes = new_backup_codes();
  ASSERT_EQ(codes.size(), 10u);
  std::set<std::string> unique(codes.begin(), codes.end());
  EXPECT_EQ(unique.size(), 10u);
  for (const auto& c : codes) {
    ASSERT_EQ(c.size(), 11u);
    EXPECT_EQ(c[5], '-');
    EXPECT_EQ(normalize_backup_code(c).size(), 10u);  // 10 base32 characters = 50 bits
  }
  EXPECT_EQ(normalize_backup_code("abcde-fghij"), "ABCDEFGHIJ");
  EXPECT_EQ(normalize_backup_code(" ABCDE FGHIJ "), "ABCDEFGHIJ");
}

}  // namespace
}  // namespace evald::auth
