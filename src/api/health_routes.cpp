#include <boost/json.hpp>

#include <mutex>
#include "api/routes.hpp"
#include "core/time_format.hpp"
#include "db/migrations.hpp"

namespace evald::api {
namespace {

namespace json = boost::json;

constexpr std::chrono::milliseconds kStalledLoopThreshold{5000};

bool wants_health_json(const http::Request& req) {
  const auto accept = req.headers.get("Accept");
  return accept && accept->find("application/health+json") != std::string_view::npos;
}

http::Response health_json(unsigned status, const json::object& body) {
  http::Response res = http::Response::json(status, json::serialize(body));
  res.headers.set("Content-Type", "application/health+json");
  res.headers.set("Cache-Control", "no-store");
  return res;
}

// A snapshot older than this means the checker itself is stuck: not ready.
std::chrono::milliseconds stale_after(const monitoring::HealthMonitor& h) {
  return std::max(std::chrono::milliseconds(15'000), 3 * h.interval());
}

json::value status_schema() {
  return json::parse(R"({"type":"object","required":["status"],
    "properties":{"status":{"type":"string","enum":["ok"]}}})");
}

// The IETF health-check format (draft-inadarei-api-health-check), for `Accept:
// application/health+json`.
json::value ietf_schema() {
  return json::parse(R"({"type":"object","required":["status"],"properties":{
    "status":{"type":"string","enum":["pass","warn","fail"]},"version":{"type":"string"},
    "releaseId":{"type":"string"},"serviceId":{"type":"string"},"description":{"type":"string"},
    "output":{"type":"string"},"checks":{"type":"object","additionalProperties":{"type":"array",
    "items":{"type":"object","required":["status"],"properties":{"status":{"type":"string",
    "enum":["pass","warn","fail"]}}}}}}})");
}

json::value ietf_example(const char* status) {
  auto v = json::parse(R"({"version":"1.1.0","releaseId":"0.1.0","serviceId":"evald",
    "description":"Online Evaluation System API","checks":{"database:responseTime":[{
    "componentId":"database","componentType":"datastore","observedValue":0.4,
    "observedUnit":"ms","time":"2026-01-15T10:30:00.000Z"}]}})");
  v.as_object()["status"] = status;
  v.at("checks").at("database:responseTime").as_array()[0].as_object()["status"] = status;
  return v;
}

http::RouteSpec ping(std::string path, std::string summary) {
  http::RouteSpec r;
  r.method = "GET";
  r.path = std::move(path);
  r.summary = std::move(summary);
  r.description = "Answers at once without touching any dependency; for load balancers.";
  r.tag = "Health";
  r.is_public = true;
  r.rate_category = http::RateCategory::kExempt;
  r.responses.push_back({200, "The process is serving", "application/json", status_schema(),
                         json::parse(R"({"status":"ok"})")});
  r.handler = [](http::Request&, http::RequestContext&) -> boost::asio::awaitable<http::Response> {
    co_return http::Response::json(200, R"({"status":"ok"})");
  };
  return r;
}

}  // namespace

std::vector<http::RouteSpec> health_routes(AppContext& app) {
  std::vector<http::RouteSpec> routes;
  routes.push_back(ping("/ping", "Ping"));
  routes.push_back(ping("/health/ping", "Ping for load balancers"));

  http::RouteSpec live;
  live.method = "GET";
  live.path = "/health/live";
  live.summary = "Liveness";
  live.description =
      "The process only: every I/O event loop has turned within the last few seconds. Never "
      "checks a dependency, so a database outage cannot get the process restarted.";
  live.tag = "Health";
  live.is_public = true;
  live.rate_category = http::RateCategory::kExempt;
  live.responses.push_back(
      {200, "Every event loop is turning", "application/json",
       json::parse(R"({"type":"object","required":["status","uptime_seconds"],"properties":{
         "status":{"type":"string","enum":["alive"]},"uptime_seconds":{"type":"number"},
         "oldest_heartbeat_ms":{"type":"integer"}}})"),
       json::parse(R"({"status":"alive","uptime_seconds":12.5,"oldest_heartbeat_ms":40})")});
  live.responses.push_back(
      {503, "An event loop is stalled", "application/json",
       json::parse(R"({"type":"object","required":["status","uptime_seconds","oldest_heartbeat_ms"],
         "properties":{"status":{"type":"string","enum":["stalled"]},
         "uptime_seconds":{"type":"number"},"oldest_heartbeat_ms":{"type":"integer"}}})"),
       json::parse(R"({"status":"stalled","uptime_seconds":812.5,"oldest_heartbeat_ms":7400})")});
  live.handler = [&app](http::Request&,
                        http::RequestContext&) -> boost::asio::awaitable<http::Response> {
    const auto now = std::chrono::steady_clock::now();
    const auto age = app.server_state->oldest_heartbeat_age(now);
    const double uptime = std::chrono::duration<double>(now - app.server_state->started).count();
    json::object body;
    const bool alive = age < kStalledLoopThreshold;
    body["status"] = alive ? "alive" : "stalled";
    body["uptime_seconds"] = uptime;
    body["oldest_heartbeat_ms"] = age.count();
    co_return http::Response::json(alive ? 200 : 503, json::serialize(body));
  };
  routes.push_back(std::move(live));

  http::RouteSpec ready;
  ready.method = "GET";
  ready.path = "/health/ready";
  ready.summary = "Readiness";
  ready.description =
      "Ready to take traffic: migrations are done, the database answered the last background "
      "check (every HEALTH_CHECK_INTERVAL_MS; this probe only reads its result and age), and "
      "the process is not draining. 503 names the failing check. Redis down keeps the "
      "instance ready (rate limits go on in-process) with the redis check at warn. "
      "`Accept: application/health+json` gets the IETF health-check format.";
  ready.tag = "Health";
  ready.is_public = true;
  ready.rate_category = http::RateCategory::kExempt;
  ready.responses.push_back(
      {200, "Ready", "application/json",
       json::parse(R"({"type":"object","required":["status","checks"],"properties":{
         "status":{"type":"string","enum":["ready"]},"checks":{"type":"object"},
         "age_ms":{"type":"integer"},"warnings":{"type":"array","items":{"type":"string"}}}})"),
       json::parse(R"({"status":"ready","age_ms":850,"checked_at":"2026-01-15T10:30:00.000Z",
         "checks":{"database":{"status":"pass","engine":"sqlite","response_time_ms":0.4,
         "schema_version":2},"redis":{"status":"pass","store":"local","configured":false}}})")});
  ready.responses.push_back(
      {200, "", "application/health+json", ietf_schema(), ietf_example("pass")});
  ready.responses.push_back(
      {503, "Not ready: the failing check is named", "application/json",
       json::parse(R"({"type":"object","required":["status","checks"],"properties":{
         "status":{"type":"string","enum":["not_ready"]},"checks":{"type":"object"},
         "age_ms":{"type":"integer"},"detail":{"type":"string"},
         "warnings":{"type":"array","items":{"type":"string"}}}})"),
       json::parse(R"({"status":"not_ready","checks":{"shutdown":{"status":"fail",
         "detail":"draining"}}})")});
  ready.responses.push_back(
      {503, "", "application/health+json", ietf_schema(), ietf_example("fail")});
  ready.handler = [&app](http::Request& req,
                         http::RequestContext&) -> boost::asio::awaitable<http::Response> {
    const auto now = std::chrono::steady_clock::now();
    const auto snap = app.health->latest();
    json::object body;
    unsigned status = 200;
    if (app.server_state->draining()) {
      status = 503;
      body["status"] = "not_ready";
      body["checks"] =
          json::object{{"shutdown", json::object{{"status", "fail"}, {"detail", "draining"}}}};
    } else if (!snap) {
      status = 503;
      body["status"] = "not_ready";
      body["checks"] = json::object{
          {"health", json::object{{"status", "fail"}, {"detail", "no check has run yet"}}}};
    } else {
      body = monitoring::to_json(*snap, now);
      const bool stale = now - snap->taken > stale_after(*app.health);
      if (!snap->ready || stale) status = 503;
      if (stale) body["detail"] = "the health checks have not run for too long";
      json::array warnings;
      for (const auto& c : snap->checks) {
        if (c.status != monitoring::CheckStatus::kPass && c.critical == false &&
            !c.detail.empty()) {
          warnings.push_back(json::value(c.component + ": " + c.detail));
        }
      }
      if (!warnings.empty()) body["warnings"] = std::move(warnings);
      body["status"] = status == 200 ? "ready" : "not_ready";
    }
    if (wants_health_json(req)) {
      json::object h;
      if (snap && !app.server_state->draining()) {
        h = monitoring::to_health_json(*snap, app.settings.api_version, build_info().version);
      } else {
        h["status"] = "fail";
        h["output"] = app.server_state->draining() ? "draining" : "no check has run yet";
      }
      if (status != 200) h["status"] = "fail";
      co_return health_json(status, h);
    }
    co_return http::Response::json(status, json::serialize(body));
  };
  routes.push_back(std::move(ready));

  http::RouteSpec basic;
  basic.method = "GET";
  basic.path = "/health/";
  basic.summary = "Health";
  basic.description =
      "Status (healthy, degraded or unhealthy, from the last background check), version, "
      "uptime and time. `Accept: application/health+json` gets the IETF health-check format.";
  basic.tag = "Health";
  basic.is_public = true;
  basic.rate_category = http::RateCategory::kExempt;
  basic.responses.push_back(
      {200, "Healthy or degraded", "application/json",
       json::parse(R"({"type":"object","required":["status","version","uptime_seconds",
         "timestamp"],"properties":{"status":{"type":"string","enum":["healthy","degraded",
         "unhealthy"]},"version":{"type":"string"},"uptime_seconds":{"type":"number"},
         "timestamp":{"type":"string"}}})"),
       json::parse(R"({"status":"healthy","version":"1.1.0","build":"0.1.0",
         "uptime_seconds":3600.5,"timestamp":"2026-01-15T10:30:00.000Z"})")});
  basic.responses.push_back(
      {200, "", "application/health+json", ietf_schema(), ietf_example("pass")});
  basic.responses.push_back(
      {503, "Unhealthy (or no check has run yet)", "application/json",
       json::parse(R"({"type":"object","required":["status","version","uptime_seconds",
         "timestamp"],"properties":{"status":{"type":"string","enum":["unhealthy"]},
         "version":{"type":"string"},"build":{"type":"string"},"uptime_seconds":{"type":"number"},
         "timestamp":{"type":"string","format":"date-time"}}})"),
       json::parse(R"({"status":"unhealthy","version":"1.1.0","build":"0.1.0",
         "uptime_seconds":3600.5,"timestamp":"2026-01-15T10:30:00.000Z"})")});
  basic.responses.push_back(
      {503, "", "application/health+json", ietf_schema(), ietf_example("fail")});
  basic.handler = [&app](http::Request& req,
                         http::RequestContext&) -> boost::asio::awaitable<http::Response> {
    const auto snap = app.health->latest();
    const std::string status = snap ? snap->overall : "unhealthy";
    const unsigned code = status == "unhealthy" ? 503 : 200;
    if (wants_health_json(req) && snap) {
      co_return health_json(
          code, monitoring::to_health_json(*snap, app.settings.api_version, build_info().version));
    }
    json::object body;
    body["status"] = status;
    body["version"] = app.settings.api_version;
    body["build"] = build_info().version;
    body["uptime_seconds"] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - app.server_state->started)
            .count();
    body["timestamp"] = format_iso8601(app.clock.now(), true);
    co_return http::Response::json(code, json::serialize(body));
  };
  routes.push_back(std::move(basic));

  http::RouteSpec detailed;
  detailed.method = "GET";
  detailed.path = "/health/detailed";
  detailed.summary = "Detailed health";
  detailed.description =
      "The last background check in full: overall status (a failed dependency outranks "
      "resource pressure), version, environment, uptime; database, Redis, mail outbox and "
      "disk with status, response time and details; CPU, memory, load, file descriptors and "
      "connections from /proc; database pool and query statistics; rate-limit statistics; "
      "error rates. Any signed-in user.";
  detailed.tag = "Health";
  detailed.rate_category = http::RateCategory::kExempt;
  detailed.admin_network = true;
  detailed.responses.push_back(
      {200, "The last check", "application/json",
       json::parse(R"({"type":"object","required":["status","version","environment",
         "uptime_seconds","checks"]})"),
       json::parse(R"({"status":"healthy","version":"1.1.0","environment":"production",
         "uptime_seconds":3600.5,"age_ms":1200,"checks":{"database":{"status":"pass"}}})")});
  detailed.handler = [&app](http::Request&,
                            http::RequestContext&) -> boost::asio::awaitable<http::Response> {
    const auto now = std::chrono::steady_clock::now();
    const auto snap = app.health->latest();
    json::object body = snap ? monitoring::to_json(*snap, now) : json::object{};
    if (!snap) body["status"] = "unhealthy";
    body["version"] = app.settings.api_version;
    body["build"] =
        json::object{{"version", build_info().version}, {"commit", build_info().commit}};
    body["environment"] = to_string(app.settings.environment);
    body["uptime_seconds"] = std::chrono::duration<double>(now - app.server_state->started).count();
    auto& monitor = app.db->monitor();
    const auto cache = app.db->cache().stats();
    body["database_queries"] =
        json::object{{"total", monitor.total_queries()},
                     {"failures", monitor.total_failures()},
                     {"slow", monitor.total_slow()},
                     {"slow_threshold_ms", monitor.slow_threshold().count()},
                     {"cache", json::object{{"hits", cache.hits},
                                            {"misses", cache.misses},
                                            {"entries", cache.entries},
                                            {"invalidations", cache.invalidations}}}};
    const auto limits = app.limiter->stats();
    body["rate_limiting"] = json::object{{"store", ratelimit::to_string(limits.mode)},
                                         {"total_requests", limits.total},
                                         {"blocked_requests", limits.refused},
                                         {"penalties_active", limits.penalties_active}};
    body["error_log"] = json::object{{"written", app.error_log->written()},
                                     {"dropped", app.error_log->dropped()},
                                     {"failed", app.error_log->failed()}};
    co_return http::Response::json(200, json::serialize(body));
  };
  routes.push_back(std::move(detailed));

  http::RouteSpec history;
  history.method = "GET";
  history.path = "/health/history";
  history.summary = "Health history";
  history.description =
      "The last HEALTH_HISTORY_SIZE background checks, oldest first: time, overall status and "
      "each check's status and observed value. Admins and secretaries.";
  history.tag = "Health";
  history.roles = {http::Role::kAdmin, http::Role::kSecretary};
  history.rate_category = http::RateCategory::kExempt;
  history.admin_network = true;
  history.responses.push_back(
      {200, "Snapshots", "application/json",
       json::parse(R"({"type":"object","required":["interval_ms","items"],"properties":{
         "interval_ms":{"type":"integer"},"items":{"type":"array","items":{"type":"object",
         "required":["checked_at","status","checks"],"properties":{
         "checked_at":{"type":"string","format":"date-time"},
         "status":{"type":"string","enum":["healthy","degraded","unhealthy"]},
         "checks":{"type":"object","additionalProperties":{"type":"object","required":["status"],
         "properties":{"status":{"type":"string","enum":["pass","warn","fail"]},
         "value":{"type":"number"},"unit":{"type":"string"}}}}}}}}})"),
       json::parse(R"({"interval_ms":5000,"items":[{"checked_at":"2026-01-15T10:30:00.000Z",
         "status":"healthy","checks":{"database":{"status":"pass","value":0.4,"unit":"ms"}}}]})")});
  history.handler = [&app](http::Request&,
                           http::RequestContext&) -> boost::asio::awaitable<http::Response> {
    json::array items;
    for (const auto& s : app.health->history()) {
      json::object checks;
      for (const auto& c : s->checks) {
        json::object e{{"status", monitoring::to_string(c.status)}};
        if (!c.observed_unit.empty()) {
          e["value"] = c.observed_value;
          e["unit"] = c.observed_unit;
        }
        checks[c.component] = std::move(e);
      }
      items.push_back(json::object{{"checked_at", format_iso8601(s->time, true)},
                                   {"status", s->overall},
                                   {"checks", std::move(checks)}});
    }
    co_return http::Response::json(
        200, json::serialize(json::object{{"interval_ms", app.health->interval().count()},
                                          {"items", std::move(items)}}));
  };
  routes.push_back(std::move(history));
  return routes;
}

}  // namespace evald::api
