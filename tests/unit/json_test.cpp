#include "core/json.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "core/time_format.hpp"

namespace evald {
namespace {

TEST(JsonEscape, EscapesWhatJsonRequires) {
  EXPECT_EQ(json_quote("a\"b\\c\n\r\t"), R"("a\"b\\c\n\r\t")");
  EXPECT_EQ(json_quote(std::string("\x01\x1f", 2)), R"("\u0001\u001f")");
}

TEST(Utf8, ValidatesStrictly) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("평가 ✓ 👩‍💻"));
  EXPECT_TRUE(is_valid_utf8(std::string("a\0b", 3)));  // NUL is UTF-8; callers refuse it apart
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("caf\xc3"));           // truncated
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // a UTF-16 surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
}

TEST(Utf8, ReplacesWhatIsInvalidAndKeepsTheRest) {
  EXPECT_EQ(to_valid_utf8("평가 ok"), "평가 ok");
  EXPECT_EQ(to_valid_utf8("/nope\xff\xfe\x80"), "/nope\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(to_valid_utf8("a\xc3(b"), "a\xef\xbf\xbd(b");
  EXPECT_TRUE(is_valid_utf8(to_valid_utf8("\xc0\xaf\xed\xa0\x80z")));
}

TEST(JsonEscape, KeepsValidUtf8AndReplacesInvalid) {
  EXPECT_EQ(json_quote("평가 ✓"), "\"평가 ✓\"");
  const std::string bad =
      "a\xff"
      "b\xc3";  // stray byte, truncated sequence
  const auto q = json_quote(bad);
  EXPECT_EQ(q,
            "\"a\xef\xbf\xbd"
            "b\xef\xbf\xbd\"");
  EXPECT_NO_THROW(boost::json::parse(q));
  // Overlong encoding and UTF-16 surrogates are invalid too.
  EXPECT_EQ(json_quote("\xc0\xaf"), "\"\xef\xbf\xbd\xef\xbf\xbd\"");
  EXPECT_EQ(json_quote("\xed\xa0\x80").find("\xed"), std::string::npos);
}

TEST(TimeFormat, Iso8601Utc) {
  const SystemTime t{std::chrono::milliseconds{1'768'473'000'123}};
  EXPECT_EQ(format_iso8601(t), "2026-01-15T10:30:00Z");
  EXPECT_EQ(format_iso8601(t, true), "2026-01-15T10:30:00.123Z");
}

}  // namespace
}  // namespace evald

namespace evald {
namespace {

TEST(TimeFormat, NormalizesClientTimesToTheStoredForm) {
  EXPECT_EQ(normalize_iso8601("2026-01-15T10:30:00Z").value(), "2026-01-15T10:30:00.000Z");
  EXPECT_EQ(normalize_iso8601("2026-01-15T10:30:00.5Z").value(), "2026-01-15T10:30:00.500Z");
  EXPECT_EQ(normalize_iso8601("2026-01-15T10:30:00.123456789Z").value(),
            "2026-01-15T10:30:00.123Z");
  for (const char* bad : {"",
                          "2026-01-15",
                          "2026-01-15T10:30:00",
                          "2026-01-15 10:30:00Z",
                          "2026-01-15T10:30:00.Z",
                          "2026-1-15T10:30:00Z",
                          "x026-01-15T10:30:00Z",
                          "2026-01-15T10:30:00+24:00",
                          "2026-01-15T10:30:00+09:60",
                          "2026-01-15T10:30:00+09",
                          "2026-01-15T10:30:00 09:00",
                          "2026-01-15T10:30:00+09;00",
                          "2026-01-15T10:30:00+090",
                          "2026-01-15T10:30:00+09:0x",
                          "2026-02-30T10:30:00+09:00",
                          "2026-01-15T10:30:00.+09:00",
                          "2026-03-01T24:00:00Z",
                          "2026-03-01T09:00:00*09:00",
                          "2026-03-01 09:00:00+09:00x",
                          "tomorrow at nine o'clock Z"}) {
    EXPECT_FALSE(normalize_iso8601(bad).has_value()) << bad;
  }
}

TEST(TimeFormat, AppliesAnOffsetToGiveUtc) {
  EXPECT_EQ(normalize_iso8601("2026-01-15T10:30:00+09:00").value(), "2026-01-15T01:30:00.000Z");
  EXPECT_EQ(normalize_iso8601("2026-01-01T08:00:00+09:00").value(), "2025-12-31T23:00:00.000Z");
  EXPECT_EQ(normalize_iso8601("2026-01-01T00:30:00.25-05:30").value(), "2026-01-01T06:00:00.250Z");
  EXPECT_EQ(normalize_iso8601("2024-02-28T23:00:00-01:00").value(), "2024-02-29T00:00:00.000Z");
  EXPECT_EQ(normalize_iso8601("2026-03-01T09:00:00+00:00").value(), "2026-03-01T09:00:00.000Z");
  EXPECT_EQ(normalize_iso8601("2026-01-01T01:00:00+0200").value(), "2025-12-31T23:00:00.000Z");
  EXPECT_EQ(normalize_iso8601("2026-12-31T20:00:00.250-05:00").value(), "2027-01-01T01:00:00.250Z");
  EXPECT_EQ(normalize_iso8601("2031-05-31T18:00:00.5-0230").value(), "2031-05-31T20:30:00.500Z");
}

}  // namespace
}  // namespace evald
