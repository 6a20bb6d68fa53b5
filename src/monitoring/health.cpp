#include "monitoring/health.hpp"

#include <boost/json.hpp>

#include "core/time_format.hpp"
#include "log/log.hpp"

namespace evald::monitoring {

namespace json = boost::json;

std::string_view to_string(CheckStatus s) {
  switch (s) {
    case CheckStatus::kPass:
      return "pass";
    case CheckStatus::kWarn:
      return "warn";
    case CheckStatus::kFail:
      return "fail";
  }
  return "";
}

HealthMonitor::HealthMonitor(const Clock& clock, HealthOptions options)
    : clock_(clock), options_(options) {}

HealthMonitor::~HealthMonitor() { stop(); }

void HealthMonitor::add_check(Check check) { checks_.push_back(std::move(check)); }

std::shared_ptr<const Snapshot> HealthMonitor::run_once() {
  auto s = std::make_shared<Snapshot>();
  s->time = clock_.now();
  bool critical_failed = false;
  bool anything_off = false;
  for (const auto& check : checks_) {
    CheckResult r;
    try {
      r = check();
    } catch (const std::exception& e) {
      r.status = CheckStatus::kFail;
      r.detail = e.what();
    }
    if (r.status == CheckStatus::kFail && r.critical) critical_failed = true;
    if (r.status != CheckStatus::kPass) anything_off = true;
    s->checks.push_back(std::move(r));
  }
  s->ready = !critical_failed;
  s->overall = critical_failed ? "unhealthy" : anything_off ? "degraded" : "healthy";
  s->taken = clock_.steady_now();
  std::shared_ptr<const Snapshot> done = s;
  {
    std::lock_guard lock(mu_);
    const bool changed = latest_ && latest_->overall != done->overall;
    if (changed) {
      log::get("health")->warn(
          "{}", log::Line("health changed").kv("from", latest_->overall).kv("to", done->overall));
    }
    latest_ = done;
    history_.push_back(done);
    while (history_.size() > options_.history) history_.pop_front();
  }
  return done;
}

void HealthMonitor::start() {
  run_once();
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      cv_.wait_for(lock, options_.interval, [&] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      run_once();
      lock.lock();
    }
  });
}

void HealthMonitor::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const Snapshot> HealthMonitor::latest() const {
  std::lock_guard lock(mu_);
  return latest_;
}

std::vector<std::shared_ptr<const Snapshot>> HealthMonitor::history() const {
  std::lock_guard lock(mu_);
  return {history_.begin(), history_.end()};
}

json::object to_json(const Snapshot& s, SteadyTime now) {
  json::object o;
  o["status"] = s.overall;
  o["ready"] = s.ready;
  o["checked_at"] = format_iso8601(s.time, true);
  o["age_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(now - s.taken).count();
  json::object checks;
  for (const auto& c : s.checks) {
    json::object e = c.data;
    e["status"] = to_string(c.status);
    if (c.response_time_ms >= 0) e["response_time_ms"] = c.response_time_ms;
    if (!c.detail.empty()) e["detail"] = c.detail;
    checks[c.component] = std::move(e);
  }
  o["checks"] = std::move(checks);
  return o;
}

json::object to_health_json(const Snapshot& s, const std::string& version,
                            const std::string& release) {
  json::object o;
  const bool any_warn = std::any_of(s.checks.begin(), s.checks.end(),
                                    [](const auto& c) { return c.status != CheckStatus::kPass; });
  o["status"] = !s.ready ? "fail" : any_warn ? "warn" : "pass";
  o["version"] = version;
  o["releaseId"] = release;
  o["serviceId"] = "evald";
  o["description"] = "Online Evaluation System API";
  json::object checks;
  const auto time = format_iso8601(s.time, true);
  for (const auto& c : s.checks) {
    json::object e;
    e["componentId"] = c.component;
    e["componentType"] = c.component_type;
    e["status"] = to_string(c.status);
    e["time"] = time;
    if (!c.observed_unit.empty()) {
      e["observedValue"] = c.observed_value;
      e["observedUnit"] = c.observed_unit;
    }
    if (!c.detail.empty()) e["output"] = c.detail;
    const std::string measure = c.observed_unit == "ms" ? "responseTime" : "utilization";
    checks[c.component + ":" + (c.observed_unit.empty() ? "status" : measure)] =
        json::array{std::move(e)};
  }
  o["checks"] = std::move(checks);
  return o;
}

}  // namespace evald::monitoring
