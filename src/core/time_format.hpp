#pragma once

#include <string>

#include "core/clock.hpp"

namespace evald {

/// "2026-01-15T10:30:00Z", or with milliseconds "2026-01-15T10:30:00.123Z".
std::string format_iso8601(SystemTime t, bool with_millis = false);

}  // namespace evald
