#include "metrics/traffic_history.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>

namespace evald::metrics {
namespace {

constexpr double kFirstBucketMs = 0.1;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const auto q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

}  // namespace

static_assert(static_cast<std::size_t>(ErrorCode::kInternalServerError) <
                  TrafficHistory::kErrorCodes,
              "TrafficHistory::kErrorCodes must cover every ErrorCode");
static_assert(std::tuple_size_v<decltype(TrafficStep::errors)> == TrafficHistory::kErrorCodes);

TrafficHistory::TrafficHistory(const Clock& clock, TrafficHistoryOptions options)
    : clock_(clock),
      options_(options),
      slots_(std::make_unique<Slot[]>(std::max<std::size_t>(1, options.steps))),
      created_(clock.now()) {
  options_.steps = std::max<std::size_t>(1, options_.steps);
  if (options_.step.count() <= 0) options_.step = std::chrono::seconds(1);
}

std::int64_t TrafficHistory::step_of(SystemTime t) const {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
  return floor_div(ms.count(),
                   std::chrono::duration_cast<std::chrono::milliseconds>(options_.step).count());
}

SystemTime TrafficHistory::start_of(std::int64_t step) const {
  return SystemTime{} + step * options_.step;
}

TrafficHistory::Slot* TrafficHistory::claim(std::int64_t step) {
  const auto n = static_cast<std::int64_t>(options_.steps);
  Slot& s = slots_[static_cast<std::size_t>(((step % n) + n) % n)];
  std::int64_t held = s.step.load(std::memory_order_acquire);
  while (held != step) {
    if (held > step) return nullptr;
    if (held == kClearing) {
      std::this_thread::yield();
      held = s.step.load(std::memory_order_acquire);
      continue;
    }
    // The first writer of the new step clears the slot; the others see kClearing and wait.
    if (s.step.compare_exchange_weak(held, kClearing, std::memory_order_acquire,
                                     std::memory_order_acquire)) {
      s.requests.store(0, std::memory_order_relaxed);
      s.refusals.store(0, std::memory_order_relaxed);
      s.failed_logins.store(0, std::memory_order_relaxed);
      for (auto& e : s.errors) e.store(0, std::memory_order_relaxed);
      for (auto& b : s.latency) b.store(0, std::memory_order_relaxed);
      s.step.store(step, std::memory_order_release);
      return &s;
    }
  }
  return &s;
}

void TrafficHistory::record_request(std::optional<std::chrono::microseconds> latency,
                                    std::optional<ErrorCode> error) {
  Slot* s = claim(step_of(clock_.now()));
  if (!s) return;
  s->requests.fetch_add(1, std::memory_order_relaxed);
  if (latency) s->latency[bucket_of(*latency)].fetch_add(1, std::memory_order_relaxed);
  if (error) {
    const auto code = static_cast<std::size_t>(*error);
    if (code < kErrorCodes) s->errors[code].fetch_add(1, std::memory_order_relaxed);
    if (*error == ErrorCode::kRateLimitExceeded) {
      s->refusals.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

void TrafficHistory::record_failed_login() {
  Slot* s = claim(step_of(clock_.now()));
  if (s) s->failed_logins.fetch_add(1, std::memory_order_relaxed);
}

std::vector<TrafficStep> TrafficHistory::steps() const {
  const auto now = clock_.now();
  const auto current = step_of(now);
  const auto n = static_cast<std::int64_t>(options_.steps);
  const auto first = std::max(current - n + 1, step_of(created_));
  std::vector<TrafficStep> out;
  if (current < first) return out;
  out.reserve(static_cast<std::size_t>(current - first + 1));
  for (auto step = first; step <= current; ++step) {
    TrafficStep t;
    t.start = start_of(step);
    const auto from = std::max(t.start, created_);
    const auto to = std::min(t.start + options_.step, now);
    t.seconds = std::max(1.0, std::chrono::duration<double>(to - from).count());
    const Slot& s = slots_[static_cast<std::size_t>(((step % n) + n) % n)];
    if (s.step.load(std::memory_order_acquire) == step) {
      std::array<std::uint64_t, kLatencyBuckets> histogram{};
      for (std::size_t i = 0; i < kLatencyBuckets; ++i) {
        histogram[i] = s.latency[i].load(std::memory_order_relaxed);
        t.measured += histogram[i];
      }
      t.requests = s.requests.load(std::memory_order_relaxed);
      t.rate_limit_refusals = s.refusals.load(std::memory_order_relaxed);
      t.failed_logins = s.failed_logins.load(std::memory_order_relaxed);
      for (std::size_t i = 0; i < kErrorCodes; ++i) {
        t.errors[i] = s.errors[i].load(std::memory_order_relaxed);
      }
      t.p50_ms = quantile_ms(histogram, 0.50);
      t.p99_ms = quantile_ms(histogram, 0.99);
      // Cleared for a newer step while being read (only when the clock moved a window on).
      if (s.step.load(std::memory_order_acquire) != step) {
        const auto start = t.start;
        const auto seconds = t.seconds;
        t = TrafficStep{};
        t.start = start;
        t.seconds = seconds;
      }
    }
    out.push_back(t);
  }
  return out;
}

std::size_t TrafficHistory::bucket_of(std::chrono::microseconds latency) {
  const double ms = static_cast<double>(latency.count()) / 1000.0;
  if (ms <= kFirstBucketMs) return 0;
  const double b = std::ceil(2.0 * std::log2(ms / kFirstBucketMs));
  // Rounding can put a value just over a bound into the bucket below: move it up.
  auto i = static_cast<std::size_t>(std::min<double>(b, kLatencyBuckets - 1));
  if (i < kLatencyBuckets - 1 && ms > bucket_upper_ms(i)) ++i;
  return i;
}

double TrafficHistory::bucket_upper_ms(std::size_t bucket) {
  if (bucket >= kLatencyBuckets - 1) return std::numeric_limits<double>::infinity();
  return kFirstBucketMs * std::exp2(static_cast<double>(bucket) / 2.0);
}

std::optional<double> TrafficHistory::quantile_ms(
    const std::array<std::uint64_t, kLatencyBuckets>& h, double q) {
  std::uint64_t total = 0;
  for (auto c : h) total += c;
  if (total == 0) return std::nullopt;
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * total)));
  std::uint64_t below = 0;
  for (std::size_t i = 0; i < kLatencyBuckets; ++i) {
    if (h[i] == 0 || below + h[i] < rank) {
      below += h[i];
      continue;
    }
    const double frac = static_cast<double>(rank - below) / static_cast<double>(h[i]);
    if (i == 0) return kFirstBucketMs * frac;
    const double lower = bucket_upper_ms(i - 1);
    // The open bucket is read as one more bucket's width.
    const double upper = i == kLatencyBuckets - 1 ? lower * std::sqrt(2.0) : bucket_upper_ms(i);
    return lower * std::pow(upper / lower, frac);
  }
  return bucket_upper_ms(kLatencyBuckets - 2);
}

}  // namespace evald::metrics
