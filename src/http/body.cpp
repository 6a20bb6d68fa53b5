#include "http/body.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/parse_query.hpp>
#include <chrono>
#include <cmath>

#include "core/time_format.hpp"

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

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

constexpr std::size_t kMaxNulReports = 20;

FieldError nul_problem(std::string field) {
  return {std::move(field),
          "Must not contain control characters",
          "value_error.control_characters",
          {}};
}

// Every string (or key) in `v` holding a NUL, as field paths like the validators' own
// ("name", "items[2].name"). JSON allows "\u0000", but no field of this API is binary and
// PostgreSQL's text cannot hold one: libpq would cut the value at it, so that "admin\u0000x"
// would be looked up as "admin". The depth is bounded by the parser's.
void find_nuls(const json::value& v, const std::string& path, std::vector<FieldError>& out) {
  if (out.size() >= kMaxNulReports) return;
  switch (v.kind()) {
    case json::kind::string:
      if (has_nul(v.get_string())) out.push_back(nul_problem(path.empty() ? "body" : path));
      return;
    case json::kind::array: {
      std::size_t i = 0;
      for (const auto& e : v.get_array()) find_nuls(e, path + "[" + std::to_string(i++) + "]", out);
      return;
    }
    case json::kind::object:
      for (const auto& kv : v.get_object()) {
        if (has_nul(kv.key())) {
          out.push_back(nul_problem(path.empty() ? "body" : path));
          continue;
        }
        find_nuls(kv.value(),
                  path.empty() ? std::string(kv.key()) : path + "." + std::string(kv.key()), out);
      }
      return;
    default:
      return;
  }
}

}  // namespace

std::optional<std::size_t> utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); ++n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    // RFC 3629: the lead byte fixes the length and the range of the second byte, which
    // excludes overlong forms (C0, C1, E0 80-9F, F0 80-8F), surrogates (ED A0-BF) and code
    // points past U+10FFFF (F4 90-BF, F5-FF): JSON and PostgreSQL refuse them all.
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else {
      return std::nullopt;
    }
    if (i + len > s.size()) return std::nullopt;
    const auto second = static_cast<unsigned char>(s[i + 1]);
    if (second < lo || second > hi) return std::nullopt;
    for (std::size_t k = 2; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return std::nullopt;
    }
    i += len;
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
  // A NUL can only be written "\u0000" (a raw one is not JSON): look further only then.
  if (req.body.find("\\u0000") != std::string::npos) {
    std::vector<FieldError> nuls;
    find_nuls(v, "", nuls);
    if (!nuls.empty()) return ApiError::validation("Request validation failed", std::move(nuls));
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
  std::vector<FieldError> nuls;
  for (const auto& p : *parsed) {
    std::string key = p.key.decode(form_opts);
    std::string value = p.value.decode(form_opts);
    if (has_nul(key) || has_nul(value)) {
      if (nuls.size() < kMaxNulReports) nuls.push_back(nul_problem(has_nul(key) ? "body" : key));
      continue;
    }
    o[key] = std::move(value);
  }
  if (!nuls.empty()) return ApiError::validation("Request validation failed", std::move(nuls));
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

namespace {

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string format_bound(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  std::string s = std::to_string(v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  return s;
}

}  // namespace

bool is_valid_email(std::string_view e) {
  if (e.size() < 3 || e.size() > 254) return false;
  const auto at = e.find('@');
  if (at == std::string_view::npos || at == 0 || e.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  const auto domain = e.substr(at + 1);
  const auto dot = domain.find('.');
  if (dot == std::string_view::npos || dot == 0 || domain.back() == '.') return false;
  return std::none_of(e.begin(), e.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; });
}

bool is_valid_date(std::string_view d) {
  if (d.size() != 10 || d[4] != '-' || d[7] != '-') return false;
  if (!is_digits(d.substr(0, 4)) || !is_digits(d.substr(5, 2)) || !is_digits(d.substr(8, 2))) {
    return false;
  }
  const int y = std::stoi(std::string(d.substr(0, 4)));
  const int m = std::stoi(std::string(d.substr(5, 2)));
  const int day = std::stoi(std::string(d.substr(8, 2)));
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{unsigned(m)},
                                        std::chrono::day{unsigned(day)}};
  return y >= 1900 && ymd.ok();
}

std::optional<double> Fields::optional_number(std::string_view name, double min, double max) {
  const auto* v = obj_.if_contains(name);
  if (!v || v->is_null()) return std::nullopt;
  return required_number(name, min, max);
}

double Fields::required_number(std::string_view name, double min, double max) {
  const auto* v = obj_.if_contains(name);
  if (!v || v->is_null()) {
    fail(std::string(name), "Field required", "value_error.missing");
    return 0;
  }
  if (!v->is_number()) {
    fail(std::string(name), "Must be a number", "type_error.number");
    return 0;
  }
  const double d = v->to_number<double>();
  if (!std::isfinite(d) || d < min || d > max) {
    fail(std::string(name), "Must be between " + format_bound(min) + " and " + format_bound(max),
         "value_error.number.range");
  }
  return d;
}

std::optional<std::int64_t> Fields::optional_integer(std::string_view name, std::int64_t min,
                                                     std::int64_t max) {
  const auto* v = obj_.if_contains(name);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_number()) {
    fail(std::string(name), "Must be an integer", "type_error.integer");
    return std::nullopt;
  }
  const double d = v->to_number<double>();
  if (d != std::floor(d)) {
    fail(std::string(name), "Must be an integer", "type_error.integer");
    return std::nullopt;
  }
  if (d < static_cast<double>(min) || d > static_cast<double>(max)) {
    fail(std::string(name),
         "Must be between " + std::to_string(min) + " and " + std::to_string(max),
         "value_error.number.range");
    return std::nullopt;
  }
  return static_cast<std::int64_t>(d);
}

std::optional<bool> Fields::optional_bool(std::string_view name) {
  const auto* v = obj_.if_contains(name);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_bool()) {
    fail(std::string(name), "Must be true or false", "type_error.bool");
    return std::nullopt;
  }
  return v->as_bool();
}

std::optional<std::string> Fields::optional_date(std::string_view name) {
  const auto before = errors_.size();
  auto s = optional_string(name, 10);
  if (!s || errors_.size() != before) return std::nullopt;
  if (!is_valid_date(*s)) {
    fail(std::string(name), "Must be a date YYYY-MM-DD", "value_error.date");
    return std::nullopt;
  }
  return s;
}

std::optional<std::string> Fields::optional_datetime(std::string_view name) {
  const auto before = errors_.size();
  auto s = optional_string(name, 64);
  if (!s || errors_.size() != before) return std::nullopt;
  auto n = normalize_iso8601(*s);
  if (!n) {
    fail(std::string(name), "Must be an ISO 8601 time with a zone, e.g. 2026-03-01T09:00:00Z",
         "value_error.datetime");
  }
  return n;
}

std::optional<std::string> Fields::optional_enum(std::string_view name,
                                                 std::initializer_list<std::string_view> allowed) {
  const auto before = errors_.size();
  auto s = optional_string(name, 64);
  if (!s || errors_.size() != before) return std::nullopt;
  for (auto a : allowed) {
    if (*s == a) return s;
  }
  std::string list;
  for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  fail(std::string(name), "Must be one of: " + list, "value_error.enum");
  return std::nullopt;
}

std::string Fields::required_email(std::string_view name) {
  const auto before = errors_.size();
  std::string s = required_string(name, 1, 254);
  if (errors_.size() != before) return s;
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!is_valid_email(s)) {
    fail(std::string(name), "Invalid email format", "value_error.email");
  }
  return s;
}

const json::array* Fields::optional_array(std::string_view name, std::size_t max_items) {
  const auto* v = obj_.if_contains(name);
  if (!v || v->is_null()) return nullptr;
  if (!v->is_array()) {
    fail(std::string(name), "Must be an array", "type_error.list");
    return nullptr;
  }
  if (v->as_array().size() > max_items) {
    fail(std::string(name), "At most " + std::to_string(max_items) + " entries",
         "value_error.list.max_items");
    return nullptr;
  }
  return &v->as_array();
}

void Fields::reject_unknown(std::initializer_list<std::string_view> known) {
  for (const auto& kv : obj_) {
    const std::string_view k = kv.key();
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      fail(std::string(k.substr(0, 64)), "Unknown field", "value_error.extra");
    }
  }
}

ApiError Fields::error() const {
  return ApiError::validation("Request validation failed", errors_);
}

}  // namespace evald::http
