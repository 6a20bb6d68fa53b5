#include "ratelimit/bucket.hpp"

#include <algorithm>
#include <cmath>

namespace evald::ratelimit {

std::string_view to_string(Scope s) {
  switch (s) {
    case Scope::kPerIp:
      return "per_ip";
    case Scope::kPerUser:
      return "per_user";
    case Scope::kPerEndpoint:
      return "per_endpoint";
    case Scope::kGlobal:
      return "global";
  }
  return "";
}

namespace {

// A wait in whole ms, at most kNeverMs (a slow enough rule can need more than an int64 holds).
std::int64_t wait_ms(double ms) {
  return static_cast<std::int64_t>(std::min(kNeverMs, std::ceil(ms)));
}

}  // namespace

double used_now(const Bucket& b, const Rule& r, std::int64_t now_ms) {
  if (b.used <= 0) return 0;
  const auto elapsed = std::max<std::int64_t>(0, now_ms - b.updated_ms);
  return std::max(0.0, b.used - static_cast<double>(elapsed) * r.per_ms());
}

double available(const Bucket& b, const Rule& r, std::int64_t now_ms) {
  return std::max(0.0, r.burst - used_now(b, r, now_ms));
}

Verdict peek(const Bucket& b, const Rule& r, std::int64_t now_ms, double cost) {
  Verdict v;
  const double tokens = available(b, r, now_ms);
  // A refill that lands exactly on the next token must not be lost to rounding (at one token
  // an hour, 3,600,000 ms x 1/3,600,000 is just under 1 in binary floating point).
  constexpr double kEpsilon = 1e-9;
  v.allowed = tokens + kEpsilon >= cost;
  v.remaining = v.allowed ? tokens - cost : tokens;
  const double missing_for_one = v.allowed ? 0 : cost - tokens;
  v.retry_ms = wait_ms(missing_for_one / r.per_ms());
  v.reset_ms = wait_ms((r.burst - v.remaining) / r.per_ms());
  return v;
}

void commit(Bucket& b, const Rule& r, std::int64_t now_ms, double cost) {
  b.used = std::min(r.burst, used_now(b, r, now_ms) + cost);
  b.updated_ms = now_ms;
}

bool count_refusal(Penalty& p, const Rule& r, std::int64_t now_ms) {
  if (r.penalty.count() == 0) return false;
  const auto window =
      std::chrono::duration_cast<std::chrono::milliseconds>(r.penalty_window).count();
  if (now_ms - p.window_start_ms >= window) {
    p.window_start_ms = now_ms;
    p.refusals = 0;
  }
  if (++p.refusals < r.penalty_threshold) return false;
  // Doubling for each repeat offence, up to the cap.
  const auto base = std::chrono::duration_cast<std::chrono::milliseconds>(r.penalty).count();
  const auto cap = std::chrono::duration_cast<std::chrono::milliseconds>(r.max_penalty).count();
  const auto factor = std::int64_t{1} << std::min(p.offences, 20u);
  p.blocked_until_ms = now_ms + std::min(cap, base * factor);
  ++p.offences;
  p.refusals = 0;
  p.window_start_ms = now_ms;
  return true;
}

bool blocked(const Penalty& p, std::int64_t now_ms) { return now_ms < p.blocked_until_ms; }

}  // namespace evald::ratelimit
