#include "http/query.hpp"

#include "core/json.hpp"

namespace evald::http {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Form decoding, leniently: '+' is a space and %XX a byte; a malformed escape and any other
// byte stay as they are. Browsers and curl send '|', '{', '^' and raw UTF-8 unescaped, and a
// strict RFC 3986 parser would drop the whole query (every parameter, not just that one).
std::string decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 &&
               hex_digit(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

// Calls f(key, value) for each parameter, decoded, until f returns true.
template <class F>
bool for_each_param(std::string_view query, F&& f) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (piece.empty()) continue;
    const auto eq = piece.find('=');
    const std::string key = decode(piece.substr(0, eq));
    const std::string value =
        eq == std::string_view::npos ? std::string() : decode(piece.substr(eq + 1));
    if (f(key, value)) return true;
  }
  return false;
}

bool is_text(const std::string& s) { return s.find('\0') == std::string::npos && is_valid_utf8(s); }

}  // namespace

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  std::optional<std::string> found;
  for_each_param(query, [&](const std::string& key, const std::string& value) {
    if (key != name) return false;
    found = value;
    return true;
  });
  return found;
}

std::optional<ApiError> check_query(std::string_view query) {
  std::vector<FieldError> problems;
  for_each_param(query, [&](const std::string& key, const std::string& value) {
    if (!is_text(key) || !is_text(value)) {
      problems.push_back({to_valid_utf8(key.substr(0, 64)),
                          "Must be valid UTF-8 text without NUL characters", "value_error.utf8",
                          std::nullopt});
    }
    return problems.size() >= 10;
  });
  if (problems.empty()) return std::nullopt;
  return ApiError::validation("Invalid query", std::move(problems));
}

}  // namespace evald::http
