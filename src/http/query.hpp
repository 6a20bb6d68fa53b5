#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace evald::http {

/// The decoded value of the first `name` parameter of a query string, if present.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

}  // namespace evald::http
