// The background health checks: database, Redis (or the in-process limiter), mail outbox, data
// disk, system resources, and the share of 5xx answers.

#include <boost/json.hpp>
#include <filesystem>

#include "app/app_context.hpp"
#include "db/migrations.hpp"
#include "metrics/process.hpp"

namespace evald {
namespace {

using monitoring::CheckResult;
using monitoring::CheckStatus;
namespace json = boost::json;

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

CheckResult check_database(AppContext& app) {
  CheckResult r{"database", "datastore", true};
  const auto start = std::chrono::steady_clock::now();
  auto version = db::current_schema_version(*app.db);
  r.response_time_ms = ms_since(start);
  r.observed_unit = "ms";
  r.observed_value = r.response_time_ms;
  r.data["engine"] = db::to_string(app.db->engine());
  if (!version) {
    r.status = CheckStatus::kFail;
    r.detail = version.error().message;
    return r;
  }
  r.data["schema_version"] = *version;
  const auto pool = app.db->pool_stats();
  r.data["pool"] =
      json::object{{"open", pool.open},        {"in_use", pool.in_use}, {"idle", pool.idle},
                   {"max", pool.max},          {"waits", pool.waits},   {"timeouts", pool.timeouts},
                   {"replaced", pool.replaced}};
  if (*version != db::latest_schema_version()) {
    r.status = CheckStatus::kFail;
    r.detail = "schema is version " + std::to_string(*version) + ", not " +
               std::to_string(db::latest_schema_version()) + " (migrations not done)";
  } else if (r.response_time_ms > app.settings.monitoring.health_db_slow_ms) {
    r.status = CheckStatus::kWarn;
    r.detail = "slow: over " + std::to_string(app.settings.monitoring.health_db_slow_ms) + " ms";
  }
  return r;
}

CheckResult check_rate_limiter(AppContext& app) {
  CheckResult r{"redis", "datastore", false};
  const auto s = app.limiter->stats();
  r.data["store"] = ratelimit::to_string(s.mode);
  r.data["enabled"] = app.settings.ratelimit.enabled;
  if (!s.redis) {
    r.data["configured"] = false;
    return r;
  }
  r.data["configured"] = true;
  r.data["trips"] = s.redis->trips;
  if (s.redis->last_probe_ms >= 0) {
    r.response_time_ms = s.redis->last_probe_ms;
    r.observed_unit = "ms";
    r.observed_value = s.redis->last_probe_ms;
  }
  if (s.mode == ratelimit::StoreMode::kFallback) {
    r.status = CheckStatus::kWarn;
    r.detail =
        "Redis unavailable (" + s.redis->last_error + "); rate limits are enforced per instance";
  }
  return r;
}

CheckResult check_outbox(AppContext& app) {
  CheckResult r{"mail_outbox", "component", false};
  const auto start = std::chrono::steady_clock::now();
  auto rows = app.db->query(
      "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM mail_outbox WHERE status = 'pending'",
      {});
  r.response_time_ms = ms_since(start);
  if (!rows) {
    r.status = CheckStatus::kFail;
    r.detail = rows.error().message;
    return r;
  }
  const auto pending = rows->integer(0, "n");
  r.observed_unit = "messages";
  r.observed_value = static_cast<double>(pending);
  r.data["pending"] = pending;
  r.data["smtp_configured"] = !app.settings.mail.smtp_server.empty();
  if (!rows->null_at(0, "oldest")) r.data["oldest_pending"] = rows->text(0, "oldest");
  if (pending > 0 && app.settings.mail.smtp_server.empty()) {
    r.status = CheckStatus::kWarn;
    r.detail = "mail is waiting and SMTP_SERVER is not set";
  } else if (pending > 100) {
    r.status = CheckStatus::kWarn;
    r.detail = "more than 100 mails waiting";
  }
  return r;
}

std::string data_directory(const Settings& s) {
  constexpr std::string_view kSqlite = "sqlite://";
  if (s.db.url.rfind(kSqlite, 0) == 0) {
    std::filesystem::path p(s.db.url.substr(kSqlite.size()));
    if (p.has_parent_path()) return p.parent_path().string();
  }
  return ".";
}

CheckResult check_disk(AppContext& app) {
  CheckResult r{"disk", "system", false};
  const auto dir = data_directory(app.settings);
  const auto d = metrics::sample_disk(dir);
  r.data["path"] = dir;
  if (!d.ok || d.total_bytes == 0) {
    r.status = CheckStatus::kWarn;
    r.detail = "cannot read the data directory's file system";
    return r;
  }
  const double used = 100.0 * static_cast<double>(d.total_bytes - d.free_bytes) /
                      static_cast<double>(d.total_bytes);
  r.observed_unit = "percent";
  r.observed_value = used;
  r.data["total_bytes"] = d.total_bytes;
  r.data["free_bytes"] = d.free_bytes;
  r.data["used_percent"] = used;
  if (used > app.settings.monitoring.health_disk_warn_percent) {
    r.status = CheckStatus::kWarn;
    r.detail = "the data disk is over " +
               std::to_string(app.settings.monitoring.health_disk_warn_percent) + "% full";
  }
  return r;
}

// CPU use is the difference between this sample and the previous one: nothing waits.
class SystemCheck {
 public:
  explicit SystemCheck(AppContext& app) : app_(app), before_(metrics::sample_system()) {}
  CheckResult operator()() {
    CheckResult r{"system", "system", false};
    const auto now = metrics::sample_system();
    const double cpu = metrics::cpu_percent(before_, now);
    before_ = now;
    const auto p = metrics::sample_process();
    const double memory =
        now.memory_total_bytes
            ? 100.0 * static_cast<double>(now.memory_total_bytes - now.memory_available_bytes) /
                  static_cast<double>(now.memory_total_bytes)
            : 0;
    r.observed_unit = "percent";
    r.observed_value = cpu;
    r.data["cpu_percent"] = cpu;
    r.data["cpus"] = now.cpus;
    r.data["load_average"] = json::array{now.load1, now.load5, now.load15};
    r.data["memory_used_percent"] = memory;
    r.data["memory_total_bytes"] = now.memory_total_bytes;
    r.data["process_resident_bytes"] = p.resident_bytes;
    r.data["process_threads"] = p.threads;
    r.data["open_fds"] = p.open_fds;
    r.data["max_fds"] = p.max_fds;
    r.data["open_connections"] = app_.server_state->open_connections.load();
    r.data["requests_in_flight"] = app_.metrics->http().in_flight();
    const auto& m = app_.settings.monitoring;
    std::vector<std::string> pressure;
    if (cpu > m.health_cpu_warn_percent) pressure.push_back("CPU");
    if (memory > m.health_memory_warn_percent) pressure.push_back("memory");
    if (p.max_fds && p.open_fds * 10 > p.max_fds * 8) pressure.push_back("file descriptors");
    if (!pressure.empty()) {
      r.status = CheckStatus::kWarn;
      for (const auto& what : pressure) r.detail += (r.detail.empty() ? "high " : ", ") + what;
    }
    return r;
  }

 private:
  AppContext& app_;
  metrics::SystemSample before_;
};

// The share of 5xx answers since the previous check.
class ErrorRateCheck {
 public:
  explicit ErrorRateCheck(AppContext& app) : app_(app) {}
  CheckResult operator()() {
    CheckResult r{"errors", "component", false};
    const auto t = app_.metrics->http().totals();
    const auto requests = t.requests - last_requests_;
    const auto errors = t.errors_5xx - last_5xx_;
    last_requests_ = t.requests;
    last_5xx_ = t.errors_5xx;
    const double rate = requests ? 100.0 * static_cast<double>(errors) / requests : 0;
    r.observed_unit = "percent";
    r.observed_value = rate;
    r.data["requests"] = requests;
    r.data["server_errors"] = errors;
    r.data["server_error_percent"] = rate;
    r.data["requests_total"] = t.requests;
    r.data["client_errors_total"] = t.errors_4xx;
    r.data["server_errors_total"] = t.errors_5xx;
    json::object by_category;
    for (const auto& [k, v] : t.errors_by_category) by_category[k] = v;
    r.data["errors_by_category"] = std::move(by_category);
    if (requests >= 20 && rate > app_.settings.monitoring.health_error_rate_warn_percent) {
      r.status = CheckStatus::kWarn;
      r.detail = "5xx answers above " +
                 std::to_string(app_.settings.monitoring.health_error_rate_warn_percent) + "%";
    }
    return r;
  }

 private:
  AppContext& app_;
  std::uint64_t last_requests_ = 0;
  std::uint64_t last_5xx_ = 0;
};

}  // namespace

void register_health_checks(AppContext& app) {
  auto& h = *app.health;
  h.add_check([&app] { return check_database(app); });
  h.add_check([&app] { return check_rate_limiter(app); });
  h.add_check([&app] { return check_outbox(app); });
  h.add_check([&app] { return check_disk(app); });
  h.add_check(SystemCheck(app));
  h.add_check(ErrorRateCheck(app));
}

}  // namespace evald
