#include "core/time_format.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace evald {

std::string format_iso8601(SystemTime t, bool with_millis) {
  using namespace std::chrono;
  const auto secs = time_point_cast<seconds>(t);
  const auto days = floor<std::chrono::days>(secs);
  const year_month_day ymd{days};
  const hh_mm_ss hms{secs - days};
  if (!with_millis) {
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", int(ymd.year()),
                       unsigned(ymd.month()), unsigned(ymd.day()), hms.hours().count(),
                       hms.minutes().count(), hms.seconds().count());
  }
  const auto ms = duration_cast<milliseconds>(t - secs).count();
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", int(ymd.year()),
                     unsigned(ymd.month()), unsigned(ymd.day()), hms.hours().count(),
                     hms.minutes().count(), hms.seconds().count(), ms);
}

}  // namespace evald
