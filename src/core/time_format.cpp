#include "core/time_format.hpp"

#include <chrono>

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace evald {

namespace {

// "YYYY-MM-DDTHH:MM:SS.mmmZ" at millisecond precision: a range of ±292 million years, where the
// system clock's nanoseconds end in 2262.
std::string format_millis(std::chrono::sys_time<std::chrono::milliseconds> t) {
  using namespace std::chrono;
  const auto days = floor<std::chrono::days>(t);
  const year_month_day ymd{days};
  const hh_mm_ss hms{t - days};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", int(ymd.year()),
                     unsigned(ymd.month()), unsigned(ymd.day()), hms.hours().count(),
                     hms.minutes().count(), hms.seconds().count(), hms.subseconds().count());
}

}  // namespace

std::string format_iso8601(SystemTime t, bool with_millis) {
  using namespace std::chrono;
  if (with_millis) return format_millis(floor<milliseconds>(t));
  const auto secs = floor<seconds>(t);
  const auto days = floor<std::chrono::days>(secs);
  const year_month_day ymd{days};
  const hh_mm_ss hms{secs - days};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", int(ymd.year()), unsigned(ymd.month()),
                     unsigned(ymd.day()), hms.hours().count(), hms.minutes().count(),
                     hms.seconds().count());
}

std::optional<std::string> normalize_iso8601(std::string_view text) {
  // The zone: "Z", or an offset ("+09:00", "-0530") that is applied to give UTC.
  std::string_view t = text;
  int offset_minutes = 0;
  if (!t.empty() && t.back() == 'Z') {
    t.remove_suffix(1);
  } else if (const auto sign = t.find_last_of("+-");
             sign != std::string_view::npos && sign >= 19 &&
             (t.size() - sign == 6 || t.size() - sign == 5)) {
    // "+HH:MM" (extended) or "+HHMM" (basic format).
    const auto z = t.substr(sign);
    if (z.size() == 6 && z[3] != ':') return std::nullopt;
    auto d2 = [&](std::size_t i) {
      return (z[i] >= '0' && z[i] <= '9' && z[i + 1] >= '0' && z[i + 1] <= '9')
                 ? (z[i] - '0') * 10 + (z[i + 1] - '0')
                 : -1;
    };
    const int hh = d2(1), mm = d2(z.size() == 6 ? 4 : 3);
    if (hh < 0 || mm < 0 || hh > 23 || mm > 59) return std::nullopt;
    offset_minutes = (z[0] == '-' ? -1 : 1) * (hh * 60 + mm);
    t = t.substr(0, sign);
  } else {
    return std::nullopt;
  }
  auto digits = [&](std::size_t from, std::size_t n) {
    if (from + n > t.size()) return false;
    for (std::size_t i = from; i < from + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
    }
    return true;
  };
  if (t.size() < 19 || !digits(0, 4) || t[4] != '-' || !digits(5, 2) || t[7] != '-' ||
      !digits(8, 2) || t[10] != 'T' || !digits(11, 2) || t[13] != ':' || !digits(14, 2) ||
      t[16] != ':' || !digits(17, 2)) {
    return std::nullopt;
  }
  // A real calendar time: month 1-12, a day the month has, 00:00:00 to 23:59:60 (leap second).
  auto num = [&](std::size_t from, std::size_t n) {
    int v = 0;
    for (std::size_t i = from; i < from + n; ++i) v = v * 10 + (t[i] - '0');
    return v;
  };
  const int year = num(0, 4), month = num(5, 2), day = num(8, 2);
  if (month < 1 || month > 12 || day < 1 || num(11, 2) > 23 || num(14, 2) > 59 || num(17, 2) > 60) {
    return std::nullopt;
  }
  const auto ymd = std::chrono::year_month_day{std::chrono::year{year},
                                               std::chrono::month{static_cast<unsigned>(month)},
                                               std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;
  std::string frac;
  if (t.size() > 19) {
    if (t[19] != '.' || t.size() < 21 || t.size() > 29 || !digits(20, t.size() - 20)) {
      return std::nullopt;
    }
    frac = std::string(t.substr(20));
  }
  frac = (frac + "000").substr(0, 3);
  if (offset_minutes == 0) return std::string(t.substr(0, 19)) + "." + frac + "Z";
  // In milliseconds, not the system clock's nanoseconds: those overflow past 2262 (and the
  // format allows years to 9999).
  using namespace std::chrono;
  const sys_time<milliseconds> local = sys_days(ymd) + hours(num(11, 2)) + minutes(num(14, 2)) +
                                       seconds(num(17, 2)) + milliseconds(std::stoi(frac));
  const auto utc = local - minutes(offset_minutes);
  // Still four digits of year, so that text comparison stays time comparison.
  const int utc_year = int(year_month_day{floor<days>(utc)}.year());
  if (utc_year < 0 || utc_year > 9999) return std::nullopt;
  return format_millis(utc);
}

}  // namespace evald
