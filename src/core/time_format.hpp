#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"

namespace evald {

/// "2026-01-15T10:30:00Z", or with milliseconds "2026-01-15T10:30:00.123Z".
std::string format_iso8601(SystemTime t, bool with_millis = false);

/// A client's UTC time ("2026-01-15T10:30:00Z", with or without up to 9 fraction digits) in
/// the stored form with exactly three ("2026-01-15T10:30:00.000Z"), so that text comparison
/// is time comparison. nullopt when it is not such a time.
std::optional<std::string> normalize_iso8601(std::string_view text);

}  // namespace evald
