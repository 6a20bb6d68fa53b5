#include "core/error.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "core/json.hpp"
#include "http/error_body.hpp"

namespace evald {
namespace {

// A JSON string value as std::string, for readable assertions.
inline std::string S(const boost::json::value& v) { return std::string(v.as_string()); }

struct Row {
  ErrorCode code;
  const char* name;
  unsigned status;
  const char* category;
  const char* severity;
};

// The table of API.md, row by row.
const Row kExpected[] = {
    {ErrorCode::kValidationError, "VALIDATION_ERROR", 400, "validation", "medium"},
    {ErrorCode::kAuthFailed, "AUTH_FAILED", 401, "authentication", "medium"},
    {ErrorCode::kMfaRequired, "MFA_REQUIRED", 401, "authentication", "low"},
    {ErrorCode::kAccountLocked, "ACCOUNT_LOCKED", 423, "authentication", "medium"},
    {ErrorCode::kInsufficientPermissions, "INSUFFICIENT_PERMISSIONS", 403, "authorization",
     "medium"},
    {ErrorCode::kNotFound, "NOT_FOUND", 404, "business_logic", "low"},
    {ErrorCode::kMethodNotAllowed, "METHOD_NOT_ALLOWED", 405, "validation", "low"},
    {ErrorCode::kConflict, "CONFLICT", 409, "business_logic", "medium"},
    {ErrorCode::kPayloadTooLarge, "PAYLOAD_TOO_LARGE", 413, "validation", "medium"},
    {ErrorCode::kBusinessLogicError, "BUSINESS_LOGIC_ERROR", 422, "business_logic", "medium"},
    {ErrorCode::kSecurityViolation, "SECURITY_VIOLATION", 403, "security", "high"},
    {ErrorCode::kRateLimitExceeded, "RATE_LIMIT_EXCEEDED", 429, "security", "medium"},
    {ErrorCode::kDatabaseError, "DATABASE_ERROR", 500, "database", "high"},
    {ErrorCode::kExternalServiceError, "EXTERNAL_SERVICE_ERROR", 503, "external_service", "high"},
    {ErrorCode::kInternalServerError, "INTERNAL_SERVER_ERROR", 500, "system", "critical"},
};

TEST(ErrorTable, MatchesTheContract) {
  ASSERT_EQ(all_error_codes().size(), std::size(kExpected));
  for (const auto& row : kExpected) {
    const auto& info = error_info(row.code);
    EXPECT_EQ(info.code, row.name);
    EXPECT_EQ(info.status, row.status) << row.name;
    EXPECT_EQ(info.category, row.category) << row.name;
    EXPECT_EQ(info.severity, row.severity) << row.name;
  }
}

TEST(ErrorTable, StatusOverrideWins) {
  auto e = ApiError::validation("bad");
  EXPECT_EQ(e.status(), 400u);
  e.status_override = 422;
  EXPECT_EQ(e.status(), 422u);
}

TEST(ErrorBody, HasEveryFieldOfTheContract) {
  auto e = ApiError::validation(
      "Request validation failed",
      {{"email", "Invalid email format", "value_error.email", std::string("not-an-email")}});
  const auto t = SystemTime{std::chrono::seconds{1'768'473'000}};
  auto body = boost::json::parse(http::render_error_body(e, "req-1", t, false)).as_object();
  EXPECT_TRUE(body.at("error").as_bool());
  EXPECT_EQ(S(body.at("error_code")), "VALIDATION_ERROR");
  EXPECT_EQ(S(body.at("message")), "Request validation failed");
  EXPECT_EQ(S(body.at("timestamp")), "2026-01-15T10:30:00Z");
  EXPECT_EQ(S(body.at("request_id")), "req-1");
  EXPECT_EQ(S(body.at("severity")), "medium");
  EXPECT_EQ(S(body.at("category")), "validation");
  const auto& d = body.at("details").as_array().at(0).as_object();
  EXPECT_EQ(S(d.at("field")), "email");
  EXPECT_EQ(S(d.at("code")), "value_error.email");
  EXPECT_EQ(S(d.at("value")), "not-an-email");
  EXPECT_FALSE(body.contains("support_reference"));
}

TEST(ErrorBody, StaysValidUtf8WhateverTheClientSent) {
  // A path or a query value with bytes that are not UTF-8, echoed in a message or a detail.
  auto e = ApiError::validation(
      "No route matches /nope\xff\xfe",
      {{"li\xffmit", "Must be a whole number", "value_error.limit", std::string("\xc3(")}});
  e.internal_detail = "bad \xed\xa0\x80";
  const auto s = http::render_error_body(e, "r", SystemTime{}, true);
  EXPECT_TRUE(is_valid_utf8(s));
  auto body = boost::json::parse(s).as_object();
  EXPECT_EQ(S(body.at("message")), "No route matches /nope\xef\xbf\xbd\xef\xbf\xbd");
  const auto& d = body.at("details").as_array().at(0).as_object();
  EXPECT_EQ(S(d.at("field")), "li\xef\xbf\xbdmit");
  EXPECT_EQ(S(d.at("value")), "\xef\xbf\xbd(");
}

TEST(ErrorBody, NeverEchoesSecretValues) {
  auto e = ApiError::validation(
      "bad", {{"new_password", "too short", "value_error.password", std::string("hunter2")},
              {"reset_token", "expired", "value_error.token", std::string("tok-123")},
              {"mfa_code", "wrong", "value_error.code", std::string("123456")}});
  const auto s = http::render_error_body(e, "r", SystemTime{}, true);
  EXPECT_EQ(s.find("hunter2"), std::string::npos);
  EXPECT_EQ(s.find("tok-123"), std::string::npos);
  EXPECT_EQ(s.find("123456"), std::string::npos);
  EXPECT_NE(s.find("new_password"), std::string::npos);
}

TEST(ErrorBody, InternalErrorsHaveAReferenceAndHideDetailsOutsideDevelopment) {
  auto e = ApiError::internal("boom at db.cpp:42");
  auto prod = boost::json::parse(http::render_error_body(e, "0123456789abcdef0123456789abcdef",
                                                         SystemTime{}, false))
                  .as_object();
  EXPECT_EQ(S(prod.at("support_reference")), "REF-89abcdef");
  EXPECT_FALSE(prod.contains("internal_detail"));
  EXPECT_EQ(S(prod.at("message")), "An internal error occurred");
  auto dev = boost::json::parse(http::render_error_body(e, "abc", SystemTime{}, true)).as_object();
  EXPECT_EQ(S(dev.at("internal_detail")), "boom at db.cpp:42");
  EXPECT_EQ(S(dev.at("support_reference")), "REF-abc");
}

TEST(SecretFields, AreRecognised) {
  EXPECT_TRUE(is_secret_field("password"));
  EXPECT_TRUE(is_secret_field("NewPassword"));
  EXPECT_TRUE(is_secret_field("access_token"));
  EXPECT_TRUE(is_secret_field("mfa_code"));
  EXPECT_TRUE(is_secret_field("Authorization"));
  EXPECT_FALSE(is_secret_field("email"));
  EXPECT_FALSE(is_secret_field("login_id"));
}

}  // namespace
}  // namespace evald
