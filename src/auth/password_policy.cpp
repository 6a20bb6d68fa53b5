#include "auth/password_policy.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <unordered_set>

#include "http/body.hpp"

namespace evald::auth {

extern const char* const kCommonPasswordsText;  // generated from share/common-passwords.txt

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

const std::unordered_set<std::string_view>& common() {
  static const std::unordered_set<std::string_view> set = [] {
    std::unordered_set<std::string_view> s;
    std::string_view text(kCommonPasswordsText);
    while (!text.empty()) {
      const auto nl = text.find('\n');
      auto line = text.substr(0, nl);
      if (!line.empty()) s.insert(line);
      if (nl == std::string_view::npos) break;
      text.remove_prefix(nl + 1);
    }
    return s;
  }();
  return set;
}

}  // namespace

bool is_common_password(std::string_view password) { return common().count(lower(password)) > 0; }

std::size_t common_password_count() { return common().size(); }

std::vector<FieldError> check_password_policy(std::string_view password, std::string_view login_id,
                                              std::string_view email, std::string_view field) {
  std::vector<FieldError> errors;
  const std::string f(field);
  const auto len = http::utf8_length(password);
  if (!len) {
    errors.push_back({f, "Password must be valid UTF-8 text", "value_error.utf8", {}});
    return errors;
  }
  if (*len < kMinPasswordLength) {
    errors.push_back({f, "Password must be at least 8 characters", "password.too_short", {}});
  }
  if (*len > kMaxPasswordLength) {
    errors.push_back({f, "Password must be at most 128 characters", "password.too_long", {}});
  }
  const auto pw = lower(password);
  if (!login_id.empty() && pw == lower(login_id)) {
    errors.push_back({f, "Password must not be the login id", "password.equals_login_id", {}});
  }
  if (!email.empty() && pw == lower(email)) {
    errors.push_back({f, "Password must not be the email address", "password.equals_email", {}});
  }
  if (is_common_password(password)) {
    errors.push_back({f,
                      "Password is too common; choose one that is not on lists of leaked passwords",
                      "password.too_common",
                      {}});
  }
  return errors;
}

}  // namespace evald::auth
