#pragma once
/// Renders an ApiError into the standard error body of API.md.

#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace evald::http {

/// `include_internal` adds the internal detail (development only).
std::string render_error_body(const ApiError& error, std::string_view request_id, SystemTime now,
                              bool include_internal);

/// "REF-" and the last 8 characters of the request id.
std::string support_reference(std::string_view request_id);

}  // namespace evald::http
