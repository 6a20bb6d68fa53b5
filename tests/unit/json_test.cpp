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
  for (const char* bad :
       {"", "2026-01-15", "2026-01-15T10:30:00", "2026-01-15 10:30:00Z", "2026-01-15T10:30:00.Z",
        "2026-1-15T10:30:00Z", "x026-01-15T10:30:00Z", "2026-01-15T10:30:00+09:00"}) {
    EXPECT_FALSE(normalize_iso8601(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace evald
