#include "http/error_body.hpp"

#include <boost/json.hpp>

#include "core/json.hpp"
#include "core/time_format.hpp"

namespace evald::http {

std::string support_reference(std::string_view request_id) {
  return "REF-" +
         std::string(request_id.size() > 8 ? request_id.substr(request_id.size() - 8) : request_id);
}

// Messages and details may echo what the client sent (a path, a query value); the body must
// stay valid UTF-8 JSON whatever that was.
std::string render_error_body(const ApiError& error, std::string_view request_id, SystemTime now,
                              bool include_internal) {
  const auto& info = error_info(error.code);
  boost::json::object body;
  body["error"] = true;
  body["error_code"] = info.code;
  body["message"] = to_valid_utf8(error.message);
  boost::json::array details;
  for (const auto& d : error.details) {
    boost::json::object o;
    o["field"] = to_valid_utf8(d.field);
    o["message"] = to_valid_utf8(d.message);
    o["code"] = d.code;
    if (d.value && !is_secret_field(d.field)) o["value"] = to_valid_utf8(*d.value);
    details.push_back(std::move(o));
  }
  body["details"] = std::move(details);
  body["timestamp"] = format_iso8601(now);
  body["request_id"] = request_id;
  body["severity"] = info.severity;
  body["category"] = info.category;
  if (error.status() >= 500) body["support_reference"] = support_reference(request_id);
  if (include_internal && !error.internal_detail.empty()) {
    body["internal_detail"] = to_valid_utf8(error.internal_detail);
  }
  return boost::json::serialize(body);
}

}  // namespace evald::http
