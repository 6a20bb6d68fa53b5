// Regression tests for what the fuzz targets found (docs/TESTING.md, "Fuzzing"). Each input is
// also kept in fuzz/corpus/<target>/regress_*, which every fuzz run executes first.

#include <gtest/gtest.h>

#include <string>

#include "api/company_input.hpp"
#include "core/time_format.hpp"
#include "http/body.hpp"

namespace evald {
namespace {

// api_bodies/regress_deadline_year_4052: a deadline with an offset past 2262 overflowed the
// nanosecond clock while it was shifted to UTC (signed overflow, UB).
TEST(FuzzRegression, TimesWithAnOffsetFarFromNowAreShiftedWithoutOverflow) {
  EXPECT_EQ(normalize_iso8601("4052-05-31T18:00:00+09:00"), "4052-05-31T09:00:00.000Z");
  EXPECT_EQ(normalize_iso8601("1600-01-01T00:30:00+01:00"), "1599-12-31T23:30:00.000Z");
  EXPECT_EQ(normalize_iso8601("2026-05-31T18:00:00.5+09:00"), "2026-05-31T09:00:00.500Z");
  // A shift out of four-digit years would break "text order is time order": refused.
  EXPECT_EQ(normalize_iso8601("9999-12-31T23:30:00-01:00"), std::nullopt);
  EXPECT_EQ(normalize_iso8601("0000-01-01T00:00:00+00:01"), std::nullopt);
  EXPECT_EQ(normalize_iso8601("9999-12-31T23:59:59Z"), "9999-12-31T23:59:59.000Z");
}

// multipart/regress_csv_header_overlong_utf8: an overlong sequence (C0 BD) passed the UTF-8
// check: into an error body (then not valid JSON), and into CSV-imported company names, which
// PostgreSQL then refuses (the database's error instead of the field's).
TEST(FuzzRegression, Utf8LengthRefusesWhatJsonAndPostgresRefuse) {
  EXPECT_EQ(http::utf8_length("\xc0\xbd"), std::nullopt);          // overlong '='
  EXPECT_EQ(http::utf8_length("\xe0\x80\xaf"), std::nullopt);      // overlong '/'
  EXPECT_EQ(http::utf8_length("\xed\xa0\x80"), std::nullopt);      // a surrogate
  EXPECT_EQ(http::utf8_length("\xf4\x90\x80\x80"), std::nullopt);  // past U+10FFFF
  EXPECT_EQ(http::utf8_length("\xf8\x88\x80\x80\x80"), std::nullopt);
  EXPECT_EQ(http::utf8_length("한국 a"), 4u);
  EXPECT_EQ(http::utf8_length("\xf0\x9f\x98\x80"), 1u);  // U+1F600
}

TEST(FuzzRegression, CsvHeaderProblemsAreValidUtf8) {
  std::vector<domain::CompanyFields> items;
  std::vector<std::string> labels;
  std::vector<FieldError> problems;
  api::company_input::read_company_csv("a\xc0\xbdr,name,registration_number\r\nx,y,1248100998\r\n",
                                       items, labels, problems);
  ASSERT_FALSE(problems.empty());
  for (const auto& p : problems) EXPECT_TRUE(http::utf8_length(p.field)) << p.field;
}

TEST(FuzzRegression, CsvValuesThatAreNotUtf8AreFieldProblems) {
  std::vector<domain::CompanyFields> items;
  std::vector<std::string> labels;
  std::vector<FieldError> problems;
  api::company_input::read_company_csv("name,registration_number\r\nAcme \xc0\xbd,1248100998\r\n",
                                       items, labels, problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].field, "row 2: name");
  EXPECT_EQ(problems[0].code, "value_error.utf8");
}

}  // namespace
}  // namespace evald
