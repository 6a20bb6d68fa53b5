// The CSV reader and writer of domain/csv.hpp, and the business registration number check.

#include <gtest/gtest.h>

#include "domain/companies.hpp"
#include "domain/csv.hpp"

namespace evald::domain {
namespace {

using Rows = std::vector<std::vector<std::string>>;

Rows fields_of(const CsvReadResult& r) {
  Rows out;
  for (const auto& rec : r.records) out.push_back(rec.fields);
  return out;
}

Rows read_ok(std::string_view text, const CsvLimits& limits = {}) {
  auto r = read_csv(text, limits);
  EXPECT_FALSE(r.error) << r.error->message << " at row " << r.error->row;
  return fields_of(r);
}

TEST(CsvRead, PlainFieldsAndLineEnds) {
  EXPECT_EQ(read_ok("a,b,c\r\n1,2,3\r\n"), (Rows{{"a", "b", "c"}, {"1", "2", "3"}}));
  EXPECT_EQ(read_ok("a,b\n1,2"), (Rows{{"a", "b"}, {"1", "2"}}));
  EXPECT_EQ(read_ok("a,b\r1,2\r"), (Rows{{"a", "b"}, {"1", "2"}}));
  EXPECT_EQ(read_ok("a\r\n\r\nb\n"), (Rows{{"a"}, {""}, {"b"}}));
}

TEST(CsvRead, EmptyTextHasNoRecords) {
  EXPECT_TRUE(read_ok("").empty());
  EXPECT_TRUE(read_ok("\xEF\xBB\xBF").empty());
}

TEST(CsvRead, EmptyFieldsAreKept) {
  EXPECT_EQ(read_ok(",,\n"), (Rows{{"", "", ""}}));
  EXPECT_EQ(read_ok("a,b,"), (Rows{{"a", "b", ""}}));
  EXPECT_EQ(read_ok("\"\",x"), (Rows{{"", "x"}}));
}

TEST(CsvRead, QuotedFieldsHoldCommasQuotesAndLineBreaks) {
  const auto rows = read_ok(
      "name,address\r\n\"Kim, Lee & Co\",\"Line 1\r\nLine 2\"\r\n\"say \"\"hi\"\"\",\"\"\"\"\r\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1], (std::vector<std::string>{"Kim, Lee & Co", "Line 1\r\nLine 2"}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{"say \"hi\"", "\""}));
}

TEST(CsvRead, RowNumbersFollowRecordsNotLines) {
  auto r = read_csv("h\n\"two\nlines\"\nthird\n");
  ASSERT_FALSE(r.error);
  ASSERT_EQ(r.records.size(), 3u);
  EXPECT_EQ(r.records[1].row, 2u);
  EXPECT_EQ(r.records[2].row, 3u);
  EXPECT_EQ(r.records[2].fields[0], "third");
}

TEST(CsvRead, ByteOrderMarkIsSkippedAndKoreanKept) {
  const auto rows = read_ok("\xEF\xBB\xBFname,대표\n한국 평가 주식회사,홍길동\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][0], "name");
  EXPECT_EQ(rows[0][1], "대표");
  EXPECT_EQ(rows[1][0], "한국 평가 주식회사");
}

TEST(CsvRead, BomOnlyAtTheStart) {
  const auto rows = read_ok(
      "a\n\xEF\xBB\xBF"
      "b\n");
  EXPECT_EQ(rows[1][0],
            "\xEF\xBB\xBF"
            "b");
}

TEST(CsvRead, BlankRecords) {
  auto r = read_csv("a,b\n,\n\nc,d\n");
  ASSERT_FALSE(r.error);
  ASSERT_EQ(r.records.size(), 4u);
  EXPECT_FALSE(r.records[0].blank());
  EXPECT_TRUE(r.records[1].blank());
  EXPECT_TRUE(r.records[2].blank());
  EXPECT_FALSE(r.records[3].blank());
}

TEST(CsvRead, SyntaxErrorsNameTheRow) {
  auto unclosed = read_csv("a\nb\n\"open\nstill open");
  ASSERT_TRUE(unclosed.error);
  EXPECT_EQ(unclosed.error->row, 3u);
  EXPECT_EQ(unclosed.error->code, "value_error.csv");

  auto stray = read_csv("a,b\nx,y\"z\n");
  ASSERT_TRUE(stray.error);
  EXPECT_EQ(stray.error->row, 2u);

  auto after = read_csv("\"a\"b,c\n");
  ASSERT_TRUE(after.error);
  EXPECT_EQ(after.error->row, 1u);
  EXPECT_EQ(after.error->code, "value_error.csv");
}

TEST(CsvRead, Limits) {
  CsvLimits l;
  l.max_records = 3;
  l.max_fields = 3;
  l.max_field_bytes = 5;
  EXPECT_EQ(read_ok("a\nb\nc\n", l).size(), 3u);
  auto rows = read_csv("a\nb\nc\nd\n", l);
  ASSERT_TRUE(rows.error);
  EXPECT_EQ(rows.error->row, 4u);
  EXPECT_EQ(rows.error->code, "value_error.csv.limit");

  EXPECT_EQ(read_ok("1,2,3", l).size(), 1u);
  auto fields = read_csv("x\n1,2,3,4", l);
  ASSERT_TRUE(fields.error);
  EXPECT_EQ(fields.error->row, 2u);
  EXPECT_EQ(fields.error->code, "value_error.csv.limit");

  EXPECT_EQ(read_ok("12345,\"12345\"", l).size(), 1u);
  auto big = read_csv("123456", l);
  ASSERT_TRUE(big.error);
  EXPECT_EQ(big.error->code, "value_error.csv.limit");
  auto big_quoted = read_csv("ok\n\"123456\"", l);
  ASSERT_TRUE(big_quoted.error);
  EXPECT_EQ(big_quoted.error->row, 2u);
}

TEST(CsvWrite, PlainCellsStayPlain) {
  EXPECT_EQ(csv_cell("abc"), "abc");
  EXPECT_EQ(csv_cell(""), "");
  EXPECT_EQ(csv_cell("한국 평가 주식회사"), "한국 평가 주식회사");
  EXPECT_EQ(csv_cell("a=b"), "a=b");
  EXPECT_EQ(csv_cell("12.5"), "12.5");
}

TEST(CsvWrite, QuotesWhenNeeded) {
  EXPECT_EQ(csv_cell("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_cell("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(csv_cell("cr\rhere"), "\"cr\rhere\"");
  EXPECT_EQ(csv_cell(" padded "), "\" padded \"");
}

TEST(CsvWrite, FormulaInjectionIsNeutralised) {
  EXPECT_EQ(csv_cell("=SUM(A1:A2)"), "'=SUM(A1:A2)");
  EXPECT_EQ(csv_cell("+1"), "'+1");
  EXPECT_EQ(csv_cell("-1"), "'-1");
  EXPECT_EQ(csv_cell("@cmd"), "'@cmd");
  EXPECT_EQ(csv_cell("\tx"), "'\tx");
  EXPECT_EQ(csv_cell("\rx"), "\"'\rx\"");
  EXPECT_EQ(csv_cell("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
  EXPECT_EQ(csv_cell("=1,2"), "\"'=1,2\"");
}

TEST(CsvWrite, LineAndRoundTrip) {
  const std::vector<std::string> cells{"한국, 평가", "=1+1",          "plain",
                                       "q\"uote",    "multi\r\nline", ""};
  const auto line = csv_line(cells);
  EXPECT_EQ(line.substr(line.size() - 2), "\r\n");
  auto back = read_csv(line);
  ASSERT_FALSE(back.error);
  ASSERT_EQ(back.records.size(), 1u);
  std::vector<std::string> expected = cells;
  expected[1] = "'=1+1";
  EXPECT_EQ(back.records[0].fields, expected);
}

TEST(RegistrationNumber, RealNumbersPass) {
  // Published numbers of Samsung Electronics, NAVER, Kakao and LG Electronics.
  for (const char* n : {"124-81-00998", "220-81-62517", "120-81-47521", "107-86-14075"}) {
    const auto c = check_registration_number(n);
    EXPECT_TRUE(c.ok()) << n << ": " << c.message;
    EXPECT_EQ(c.value, n);
  }
  const auto plain = check_registration_number("1248100998");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain.value, "124-81-00998");
  EXPECT_TRUE(check_registration_number(" 2208162517 ").ok());
}

TEST(RegistrationNumber, WrongCheckDigit) {
  for (const char* n : {"124-81-00999", "1248100990", "220-81-62510", "120-81-47522"}) {
    const auto c = check_registration_number(n);
    EXPECT_FALSE(c.ok()) << n;
    EXPECT_EQ(c.code, "value_error.registration_number.check_digit") << n;
  }
}

TEST(RegistrationNumber, BadShapes) {
  for (const char* n : {"", "124810099", "12481009980", "124-8100998", "12-481-00998",
                        "124 81 00998", "124-81-0099a", "abcdefghij", "124--81-0099"}) {
    const auto c = check_registration_number(n);
    EXPECT_FALSE(c.ok()) << n;
    EXPECT_EQ(c.code, "value_error.registration_number") << n;
  }
}

TEST(RegistrationNumber, CheckDigitCoversTheCarryOfTheNinthDigit) {
  // 9th digit 9: 9 * 5 = 45 adds its tens (4) to the sum.
  EXPECT_TRUE(registration_check_digit_ok("1248100998"));
  // Every first nine digits have exactly one valid tenth.
  const std::string nine = "123456789";
  int valid = 0;
  for (char d = '0'; d <= '9'; ++d) valid += registration_check_digit_ok(nine + d) ? 1 : 0;
  EXPECT_EQ(valid, 1);
}

}  // namespace
}  // namespace evald::domain
