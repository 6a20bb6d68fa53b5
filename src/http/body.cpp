#include "http/body.hpp"

#include <boost/json.hpp>
#include <boost/url/parse_query.hpp>

namespace evald::http {
namespace {

namespace json = boost::json;
constexpr std::size_t kMaxDepth = 32;

std::string_view media_type(const Request& req) {
  auto ct = req.headers.get("Content-Type").value_or("");
  const auto semi = ct.find(';');
  ct = ct.substr(0, semi);
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  return ct;
}

bool iequals_media(std::string_view a, std::string_view b) { return iequals(a, b); }

}  // namespace

std::optional<std::size_t> utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80         ? 1
                      : (c >> 5) == 6  ? 2
                      : (c >> 4) == 14 ? 3
                      : (c >> 3) == 30 ? 4
                                       : 0;
    if (len == 0 || i + len > s.size()) return std::nullopt;
    for (std::size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return std::nullopt;
    }
    i += len;
    ++n;
  }
  return n;
}

bool is_form(const Request& req) {
  return iequals_media(media_type(req), "application/x-www-form-urlencoded");
}

Result<json::object> parse_json_object(const Request& req) {
  const auto mt = media_type(req);
  if (!iequals_media(mt, "application/json")) {
    return ApiError::validation(
        "Request body must be JSON",
        {{"body", "Content-Type must be application/json", "type_error.content_type", {}}});
  }
  json::parse_options opt;
  opt.max_depth = kMaxDepth;
  json::error_code ec;
  json::value v = json::parse(req.body, ec, {}, opt);
  if (ec) {
    return ApiError::validation(
        "Request body is not valid JSON",
        {{"body", "Malformed JSON: " + ec.message(), "value_error.json", {}}});
  }
  if (!v.is_object()) {
    return ApiError::validation("Request body must be a JSON object",
                                {{"body", "Expected a JSON object", "type_error.object", {}}});
  }
  return std::move(v.as_object());
}

Result<json::object> parse_form(const Request& req) {
  auto parsed = boost::urls::parse_query(req.body);
  if (!parsed) {
    return ApiError::validation("Request body is not a valid form",
                                {{"body", "Malformed form encoding", "value_error.form", {}}});
  }
  json::object o;
  boost::urls::encoding_opts form_opts;
  form_opts.space_as_plus = true;  // HTML forms send a space as '+'
  for (const auto& p : *parsed) o[p.key.decode(form_opts)] = p.value.decode(form_opts);
  return o;
}

std::string Fields::required_string(std::string_view name, std::size_t min, std::size_t max) {
  const auto* v = obj_.if_contains(name);
  if (!v || v->is_null()) {
    fail(std::string(name), "Field required", "value_error.missing");
    return {};
  }
  if (!v->is_string()) {
    fail(std::string(name), "Must be a string", "type_error.str");
    return {};
  }
  std::string s(v->as_string());
  const auto len = utf8_length(s);
  if (!len) {
    fail(std::string(name), "Must be valid UTF-8 text", "value_error.utf8");
  } else if (*len < min) {
    fail(std::string(name),
         min == 1 ? "Must not be empty" : "Must be at least " + std::to_string(min) + " characters",
         "value_error.min_length");
  } else if (*len > max) {
    fail(std::string(name), "Must be at most " + std::to_string(max) + " characters",
         "value_error.max_length");
  }
  return s;
}

std::optional<std::string> Fields::optional_string(std::string_view name, std::size_t max) {
  const auto* v = obj_.if_contains(name);
  if (!v || v->is_null()) return std::nullopt;
  return required_string(name, 0, max);
}

void Fields::fail(std::string field, std::string message, std::string code) {
  errors_.push_back(FieldError{std::move(field), std::move(message), std::move(code), {}});
}

ApiError Fields::error() const {
  return ApiError::validation("Request validation failed", errors_);
}

}  // namespace evald::http
