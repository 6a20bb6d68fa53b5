#pragma once
/// Small JSON helpers shared by logging and error rendering.

#include <string>
#include <string_view>

namespace evald {

/// Appends `s` as the inside of a JSON string (no quotes), escaping what JSON requires and
/// replacing invalid UTF-8 with U+FFFD so that a log line is always valid JSON.
void json_escape_append(std::string& out, std::string_view s);

/// `s` as a quoted JSON string.
std::string json_quote(std::string_view s);

/// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past
/// U+10FFFF).
bool is_valid_utf8(std::string_view s);

/// `s` with each byte that does not begin a well-formed UTF-8 sequence replaced by U+FFFD:
/// for text that goes into a JSON answer (Boost.JSON writes strings as they are).
std::string to_valid_utf8(std::string_view s);

}  // namespace evald
