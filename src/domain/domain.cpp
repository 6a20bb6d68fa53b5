#include "domain/domain.hpp"

namespace evald::domain {

ApiError not_found(std::string_view what) {
  return ApiError::not_found(std::string(what) + " not found");
}

ApiError conflict(std::string message, std::vector<FieldError> details) {
  ApiError e;
  e.code = ErrorCode::kConflict;
  e.message = std::move(message);
  e.details = std::move(details);
  return e;
}

ApiError business(std::string message) {
  ApiError e;
  e.code = ErrorCode::kBusinessLogicError;
  e.message = std::move(message);
  return e;
}

}  // namespace evald::domain
