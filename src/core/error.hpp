#pragma once
/// The error model: one ErrorCode table (status, category, severity) and ApiError values that
/// travel through Result<T> and Response until they are rendered once, with the request id.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace evald {

enum class ErrorCode {
  kValidationError,
  kAuthFailed,
  kMfaRequired,
  kAccountLocked,
  kInsufficientPermissions,
  kNotFound,
  kMethodNotAllowed,
  kConflict,
  kPayloadTooLarge,
  kBusinessLogicError,
  kSecurityViolation,
  kRateLimitExceeded,
  kDatabaseError,
  kExternalServiceError,
  kInternalServerError,
};

/// One row of the table in API.md.
struct ErrorInfo {
  std::string_view code;      ///< "VALIDATION_ERROR"
  unsigned status;            ///< default HTTP status
  std::string_view category;  ///< "validation"
  std::string_view severity;  ///< "low" | "medium" | "high" | "critical"
};

const ErrorInfo& error_info(ErrorCode code);
/// Every code, in declaration order (for tests, docs and metrics).
const std::vector<ErrorCode>& all_error_codes();

/// A field-level problem. `value` is echoed only for non-secret fields (see redact rules).
struct FieldError {
  std::string field;
  std::string message;
  std::string code;
  std::optional<std::string> value;
};

struct ApiError {
  ErrorCode code = ErrorCode::kInternalServerError;
  std::string message;
  std::vector<FieldError> details;
  /// Overrides the table's status where API.md allows two (400/422, 500/503).
  unsigned status_override = 0;
  /// For the log and, in development only, the client. Never a secret.
  std::string internal_detail;

  unsigned status() const { return status_override ? status_override : error_info(code).status; }

  static ApiError validation(std::string message, std::vector<FieldError> details = {});
  static ApiError not_found(std::string message = "Resource not found");
  static ApiError method_not_allowed();
  static ApiError payload_too_large(std::string message = "Request body is too large");
  static ApiError internal(std::string internal_detail = {});
  static ApiError auth_failed(std::string message = "Authentication failed");
  static ApiError forbidden(std::string message = "Insufficient permissions");
};

/// True for field names whose values must never be echoed (passwords, tokens, secrets, codes).
bool is_secret_field(std::string_view field);

}  // namespace evald
