#pragma once
// Shared by the fuzz targets: a scratch directory, settings for an in-process evald on a
// scratch SQLite file, and the way a target reports a broken property.

#include <string>
#include <string_view>

#include "config/settings.hpp"

namespace evald::fuzz {

/// A fresh directory under $TMPDIR (or /tmp), removed when the process exits normally.
const std::string& scratch_dir();

/// Valid settings for an in-process evald: SQLite in the scratch directory, uploads there too,
/// logging off, no rate limiting, two worker threads. Aborts if they do not validate.
Settings scratch_settings();

/// Quiet logging for a target that does not build an AppContext (once per process).
void init_quiet_logging();

/// A property the code must keep was broken: prints what and the context, then aborts, so
/// that libFuzzer saves the input as a crash.
[[noreturn]] void broken(std::string_view what, std::string_view context = {});

/// True when `s` is UTF-8 as PostgreSQL and JSON require it: no overlong forms, surrogates,
/// or code points above U+10FFFF.
bool is_strict_utf8(std::string_view s);

/// From now on, every statement any SQLite connection of this process runs is checked: with
/// its values bound, it must be strict UTF-8. A text value that is not would be refused by
/// PostgreSQL ("invalid byte sequence for encoding UTF8"): a 500 there, a silent pass here.
/// Call before the database is opened.
void check_sql_text_is_utf8();

/// True when `s` is valid UTF-8 JSON text (what Boost.JSON accepts, which checks UTF-8).
bool is_valid_json(std::string_view s);

}  // namespace evald::fuzz
