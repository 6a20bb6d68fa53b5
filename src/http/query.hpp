#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace evald::http {

/// The decoded value of the first `name` parameter of a query string, if present. Decoding is
/// lenient: characters RFC 3986 does not allow unescaped (as browsers send them) are taken as
/// they are, and a malformed %-escape stays literal.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

/// 400 VALIDATION_ERROR naming each parameter whose name or value, decoded, is not UTF-8 text
/// or holds a NUL; nullopt when the query is fine.
std::optional<ApiError> check_query(std::string_view query);

}  // namespace evald::http
