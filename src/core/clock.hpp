#pragma once
/// Time as an injected dependency, so that time-dependent logic is tested without sleeping.

#include <atomic>
#include <chrono>

namespace evald {

using SystemTime = std::chrono::system_clock::time_point;
using SteadyTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SystemTime now() const = 0;
  virtual SteadyTime steady_now() const = 0;
};

class RealClock final : public Clock {
 public:
  SystemTime now() const override { return std::chrono::system_clock::now(); }
  SteadyTime steady_now() const override { return std::chrono::steady_clock::now(); }
};

/// A clock that moves only when told to; for unit tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(SystemTime start = SystemTime{std::chrono::seconds{1'700'000'000}})
      : offset_(0), start_(start) {}
  SystemTime now() const override { return start_ + std::chrono::nanoseconds(offset_.load()); }
  SteadyTime steady_now() const override {
    return SteadyTime{} + std::chrono::nanoseconds(offset_.load());
  }
  void advance(std::chrono::nanoseconds d) { offset_ += d.count(); }

 private:
  std::atomic<long long> offset_;
  SystemTime start_;
};

}  // namespace evald
