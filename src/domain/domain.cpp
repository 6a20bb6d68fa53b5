#include "domain/domain.hpp"

#include <cctype>

namespace evald::domain {

bool is_uuid(std::string_view id) {
  if (id.size() != 36) return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

boost::json::value text_or_null(const db::Rows& rows, std::size_t i, std::string_view col) {
  return rows.null_at(i, col) ? boost::json::value(nullptr) : boost::json::value(rows.text(i, col));
}

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
