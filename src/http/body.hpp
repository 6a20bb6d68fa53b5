#pragma once
/// Reading request bodies: JSON objects (and urlencoded forms) with field-level validation that
/// collects every problem into one VALIDATION_ERROR, in the standard body's `details`.

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <initializer_list>
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
  /// A number (integer or not) within [min, max].
  double required_number(std::string_view name, double min, double max);
  std::optional<double> optional_number(std::string_view name, double min, double max);
  /// A whole number within [min, max] (1.0 is accepted, 1.5 and "1" are not).
  std::optional<std::int64_t> optional_integer(std::string_view name, std::int64_t min,
                                               std::int64_t max);
  std::optional<bool> optional_bool(std::string_view name);
  /// A calendar date "YYYY-MM-DD" that exists.
  std::optional<std::string> optional_date(std::string_view name);
  /// An ISO 8601 time with an offset, returned normalised to UTC with milliseconds.
  std::optional<std::string> optional_datetime(std::string_view name);
  /// One of `allowed`.
  std::optional<std::string> optional_enum(std::string_view name,
                                           std::initializer_list<std::string_view> allowed);
  /// An email address (the same rule everywhere), lower-cased.
  std::string required_email(std::string_view name);
  /// An array of at most `max_items` entries; nullptr when absent (or wrong: then a problem).
  const boost::json::array* optional_array(std::string_view name, std::size_t max_items);
  /// Fields of the object not in `known` are refused (typos must not pass silently).
  void reject_unknown(std::initializer_list<std::string_view> known);
  /// Whether the field is present (null counts as present: it clears an optional value).
  bool has(std::string_view name) const { return obj_.contains(name); }
  /// Adds a problem found by the caller.
  void fail(std::string field, std::string message, std::string code);

  bool ok() const { return errors_.empty(); }
  const std::vector<FieldError>& errors() const { return errors_; }
  ApiError error() const;

 private:
  const boost::json::object& obj_;
  std::vector<FieldError> errors_;
};

/// True for a plausible address: one '@', a dotted domain, no spaces, at most 254 characters.
bool is_valid_email(std::string_view email);

/// True for "YYYY-MM-DD" naming a real date.
bool is_valid_date(std::string_view date);

/// Number of UTF-8 code points; nullopt when the text is not valid UTF-8 (RFC 3629: no
/// overlong forms, surrogates or code points past U+10FFFF, which JSON and PostgreSQL refuse).
std::optional<std::size_t> utf8_length(std::string_view s);

}  // namespace evald::http
