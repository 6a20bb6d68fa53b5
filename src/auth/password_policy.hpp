#pragma once
/// The password policy: 8 to 128 characters, not the login id or the email, not one of the
/// 20,000 most common passwords (share/common-passwords.txt, compiled in). Every failed rule
/// is reported, so the user learns all of them at once.

#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace evald::auth {

constexpr std::size_t kMinPasswordLength = 8;
constexpr std::size_t kMaxPasswordLength = 128;

/// Field errors for `field` (never echoing the password); empty when the password is fine.
std::vector<FieldError> check_password_policy(std::string_view password, std::string_view login_id,
                                              std::string_view email,
                                              std::string_view field = "password");

bool is_common_password(std::string_view password);
std::size_t common_password_count();

}  // namespace evald::auth
