// Request bodies: a NUL anywhere in a JSON or form body is refused field by field.

#include "http/body.hpp"

#include <gtest/gtest.h>

namespace evald::http {
namespace {

Request with_body(std::string content_type, std::string body) {
  Request r;
  r.method = "POST";
  r.headers.add("Content-Type", content_type);
  r.body = std::move(body);
  return r;
}

std::vector<std::string> fields_of(const ApiError& e) {
  std::vector<std::string> out;
  for (const auto& d : e.details) {
    EXPECT_EQ(d.code, "value_error.control_characters");
    EXPECT_FALSE(d.value);  // never echoed
    out.push_back(d.field);
  }
  return out;
}

TEST(JsonBody, ANulIsRefusedWhereverItIs) {
  auto r = parse_json_object(
      with_body("application/json",
                R"({"name": "nul\u0000byte", "items": [{"name": "ok"}, {"name": "a\u0000"}],)"
                R"( "tags": ["x", "\u0000"], "n\u0000k": 1, "fine": "\\u0000 is text here"})"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status(), 400u);
  EXPECT_EQ(fields_of(r.error()),
            (std::vector<std::string>{"name", "items[1].name", "tags[1]", "body"}));
}

TEST(JsonBody, TextWithoutNulIsUntouched) {
  auto r = parse_json_object(
      with_body("application/json", R"({"a": "\\u0000 escaped backslash", "b": "평가\u0001"})"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->at("a").as_string(), "\\u0000 escaped backslash");
}

TEST(FormBody, ANulIsRefused) {
  auto r = parse_form(
      with_body("application/x-www-form-urlencoded", "username=admin%00x&password=secret"));
  ASSERT_FALSE(r);
  EXPECT_EQ(fields_of(r.error()), (std::vector<std::string>{"username"}));
  auto ok = parse_form(with_body("application/x-www-form-urlencoded", "username=a+b&password=c"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->at("username").as_string(), "a b");
}

}  // namespace
}  // namespace evald::http
