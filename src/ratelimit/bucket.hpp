#pragma once
/// Token-bucket arithmetic, exact to the millisecond: capacity = burst, continuous refill of
/// `limit` tokens per `window`. A refused request consumes nothing. Time is passed in, so the
/// math is tested without clocks, and the same rules hold in the in-process and Redis stores.

#include <chrono>
#include <cstdint>
#include <string>

namespace evald::ratelimit {

enum class Scope { kPerIp, kPerUser, kPerEndpoint, kGlobal };
std::string_view to_string(Scope s);

struct Rule {
  std::string name;  ///< unique, e.g. "per_ip:login"
  Scope scope = Scope::kPerIp;
  double limit = 60;  ///< tokens added per window
  std::chrono::milliseconds window{60'000};
  double burst = 60;  ///< capacity
  /// Penalty box: this many refusals within `penalty_window` block the key for `penalty`,
  /// doubling for each repeat offence up to `max_penalty`. Zero penalty: no box.
  std::chrono::seconds penalty{0};
  unsigned penalty_threshold = 3;
  std::chrono::seconds penalty_window{60};
  std::chrono::seconds max_penalty{24 * 3600};
  bool shadow = false;  ///< counted and logged, never enforced

  double per_ms() const { return limit / static_cast<double>(window.count()); }
};

/// What a key has used, rather than what it has left: a rule reloaded with a larger burst then
/// gives a client the difference at once, and a smaller one takes it away.
struct Bucket {
  double used = 0;  ///< tokens taken and not yet refilled, as of updated_ms
  std::int64_t updated_ms = 0;
};

/// Tokens still missing from a full bucket at `now_ms` (0 when full).
double used_now(const Bucket& b, const Rule& r, std::int64_t now_ms);

/// Tokens in the bucket at `now_ms` (refilled, capped at burst).
double available(const Bucket& b, const Rule& r, std::int64_t now_ms);

/// The longest wait a verdict reports, 2^53 ms (285,000 years): a rule may refill so slowly
/// that a wait would not fit in an int64, and both stores report such a wait as this.
inline constexpr double kNeverMs = 9007199254740992.0;

struct Verdict {
  bool allowed = false;
  double remaining = 0;       ///< tokens left after this request (if allowed) or now (if not)
  std::int64_t retry_ms = 0;  ///< when refused: until one token is back
  std::int64_t reset_ms = 0;  ///< until the bucket is full again
};

/// What taking `cost` tokens would give, without changing the bucket.
Verdict peek(const Bucket& b, const Rule& r, std::int64_t now_ms, double cost = 1);
/// Takes the tokens of an allowed verdict (call only after every rule allowed).
void commit(Bucket& b, const Rule& r, std::int64_t now_ms, double cost = 1);

/// Repeat offenders.
struct Penalty {
  std::int64_t window_start_ms = 0;
  unsigned refusals = 0;
  unsigned offences = 0;
  std::int64_t blocked_until_ms = 0;
};

/// Counts one refusal; returns true when it puts the key in the box (now blocked).
bool count_refusal(Penalty& p, const Rule& r, std::int64_t now_ms);
bool blocked(const Penalty& p, std::int64_t now_ms);

}  // namespace evald::ratelimit
