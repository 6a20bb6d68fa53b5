#pragma once
/// Reading request bodies: JSON objects (and urlencoded forms) with field-level validation that
/// collects every problem into one VALIDATION_ERROR, in the standard body's `details`.

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "http/message.hpp"

namespace evald::http {

/// The body as a JSON object: 400 when the content type is not JSON, the text is not JSON,
/// or it is not an object (nesting deeper than 32 levels is refused too).
Result<boost::json::object> parse_json_object(const Request& req);

/// An application/x-www-form-urlencoded body as a JSON object of strings.
Result<boost::json::object> parse_form(const Request& req);

/// True when the request says its body is a form.
bool is_form(const Request& req);

/// Collects field errors while reading a body; `error()` gives the one response.
class Fields {
 public:
  explicit Fields(const boost::json::object& obj) : obj_(obj) {}

  /// A required string of `min`..`max` characters (UTF-8 code points).
  std::string required_string(std::string_view name, std::size_t min = 1, std::size_t max = 255);
  std::optional<std::string> optional_string(std::string_view name, std::size_t max = 255);
  /// Adds a problem found by the caller.
  void fail(std::string field, std::string message, std::string code);

  bool ok() const { return errors_.empty(); }
  ApiError error() const;

 private:
  const boost::json::object& obj_;
  std::vector<FieldError> errors_;
};

/// Number of UTF-8 code points; nullopt when the text is not valid UTF-8.
std::optional<std::size_t> utf8_length(std::string_view s);

}  // namespace evald::http
