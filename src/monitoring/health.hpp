#pragma once
/// Health checks run in the background on an interval; probes and the detailed view read the
/// last result (with its age), so a storm of probes costs nothing. Each check says pass, warn
/// or fail; the overall state is unhealthy when a critical dependency fails (it outranks any
/// resource pressure), degraded when anything warns or a non-critical check fails, healthy
/// otherwise. A bounded history keeps the last snapshots.

#include <boost/json/object.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"

namespace evald::monitoring {

enum class CheckStatus { kPass, kWarn, kFail };
std::string_view to_string(CheckStatus s);

struct CheckResult {
  std::string component;       ///< "database"
  std::string component_type;  ///< "datastore", "component", "system"
  bool critical = false;       ///< a failure makes the instance unready and unhealthy
  CheckStatus status = CheckStatus::kPass;
  double response_time_ms = -1;  ///< when the check talked to something
  std::string observed_unit;     ///< for application/health+json: "ms", "percent", ...
  double observed_value = 0;
  std::string detail;        ///< why it warns or fails
  boost::json::object data;  ///< everything else worth showing
};

struct Snapshot {
  SystemTime time{};
  SteadyTime taken{};
  std::string overall;  ///< healthy | degraded | unhealthy
  bool ready = false;   ///< every critical check passes (or only warns)
  std::vector<CheckResult> checks;
};

struct HealthOptions {
  std::chrono::milliseconds interval{5'000};
  std::size_t history = 120;
};

class HealthMonitor {
 public:
  using Check = std::function<CheckResult()>;
  HealthMonitor(const Clock& clock, HealthOptions options);
  ~HealthMonitor();
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  /// Register before start(); checks run in order, on the monitor's thread.
  void add_check(Check check);
  /// Runs the checks once at once (so the first probe has a result), then on the interval.
  void start();
  void stop();
  /// Runs every check now and records the snapshot.
  std::shared_ptr<const Snapshot> run_once();

  std::shared_ptr<const Snapshot> latest() const;
  /// Oldest first.
  std::vector<std::shared_ptr<const Snapshot>> history() const;
  std::chrono::milliseconds interval() const { return options_.interval; }

 private:
  const Clock& clock_;
  HealthOptions options_;
  std::vector<Check> checks_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::shared_ptr<const Snapshot> latest_;
  std::deque<std::shared_ptr<const Snapshot>> history_;
  std::thread thread_;
};

/// The snapshot as JSON: {status, checks: {name: {...}}, time}.
boost::json::object to_json(const Snapshot& s, SteadyTime now);
/// draft-inadarei-api-health-check: {status pass|warn|fail, checks: {"name:measure": [...]}}.
boost::json::object to_health_json(const Snapshot& s, const std::string& version,
                                   const std::string& release);

}  // namespace evald::monitoring
