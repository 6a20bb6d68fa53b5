#include "core/error.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace evald {
namespace {

constexpr std::array<ErrorInfo, 15> kTable{{
    {"VALIDATION_ERROR", 400, "validation", "medium"},
    {"AUTH_FAILED", 401, "authentication", "medium"},
    {"MFA_REQUIRED", 401, "authentication", "low"},
    {"ACCOUNT_LOCKED", 423, "authentication", "medium"},
    {"INSUFFICIENT_PERMISSIONS", 403, "authorization", "medium"},
    {"NOT_FOUND", 404, "business_logic", "low"},
    {"METHOD_NOT_ALLOWED", 405, "validation", "low"},
    {"CONFLICT", 409, "business_logic", "medium"},
    {"PAYLOAD_TOO_LARGE", 413, "validation", "medium"},
    {"BUSINESS_LOGIC_ERROR", 422, "business_logic", "medium"},
    {"SECURITY_VIOLATION", 403, "security", "high"},
    {"RATE_LIMIT_EXCEEDED", 429, "security", "medium"},
    {"DATABASE_ERROR", 500, "database", "high"},
    {"EXTERNAL_SERVICE_ERROR", 503, "external_service", "high"},
    {"INTERNAL_SERVER_ERROR", 500, "system", "critical"},
}};

}  // namespace

const ErrorInfo& error_info(ErrorCode code) { return kTable.at(static_cast<size_t>(code)); }

const std::vector<ErrorCode>& all_error_codes() {
  static const std::vector<ErrorCode> codes = [] {
    std::vector<ErrorCode> v;
    for (size_t i = 0; i < kTable.size(); ++i) v.push_back(static_cast<ErrorCode>(i));
    return v;
  }();
  return codes;
}

ApiError ApiError::validation(std::string message, std::vector<FieldError> details) {
  return ApiError{ErrorCode::kValidationError, std::move(message), std::move(details), 0, {}};
}
ApiError ApiError::not_found(std::string message) {
  return ApiError{ErrorCode::kNotFound, std::move(message), {}, 0, {}};
}
ApiError ApiError::method_not_allowed() {
  return ApiError{ErrorCode::kMethodNotAllowed, "Method not allowed for this path", {}, 0, {}};
}
ApiError ApiError::payload_too_large(std::string message) {
  return ApiError{ErrorCode::kPayloadTooLarge, std::move(message), {}, 0, {}};
}
ApiError ApiError::internal(std::string internal_detail) {
  return ApiError{ErrorCode::kInternalServerError,
                  "An internal error occurred",
                  {},
                  0,
                  std::move(internal_detail)};
}
ApiError ApiError::auth_failed(std::string message) {
  return ApiError{ErrorCode::kAuthFailed, std::move(message), {}, 0, {}};
}
ApiError ApiError::forbidden(std::string message) {
  return ApiError{ErrorCode::kInsufficientPermissions, std::move(message), {}, 0, {}};
}

bool is_secret_field(std::string_view field) {
  std::string lower(field);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static constexpr std::array<std::string_view, 9> kMarkers{
      "password", "token", "secret", "code", "authorization", "cookie", "key", "otp", "credential"};
  return std::any_of(kMarkers.begin(), kMarkers.end(),
                     [&](std::string_view m) { return lower.find(m) != std::string::npos; });
}

}  // namespace evald
