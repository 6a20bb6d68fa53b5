#include <boost/json.hpp>

#include <mutex>
#include "api/routes.hpp"
#include "db/migrations.hpp"

namespace evald::api {
namespace {

namespace json = boost::json;

constexpr std::chrono::milliseconds kStalledLoopThreshold{5000};
// Readiness answers from a result this young without asking the database again, so that a
// storm of probes costs one query a second.
constexpr std::chrono::milliseconds kReadinessReuse{1000};

struct ReadinessCache {
  std::mutex mu;
  std::chrono::steady_clock::time_point at{};
  unsigned status = 0;  ///< 0: nothing cached yet
  json::object database;
};

json::object check_database(AppContext& app) {
  json::object db;
  const auto start = std::chrono::steady_clock::now();
  auto version = db::current_schema_version(*app.db);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  db["engine"] = db::to_string(app.db->engine());
  db["response_time_ms"] = ms;
  if (!version) {
    db["status"] = "fail";
    db["detail"] = version.error().message;
    return db;
  }
  db["schema_version"] = *version;
  if (*version != db::latest_schema_version()) {
    db["status"] = "fail";
    db["detail"] = "schema is not at version " + std::to_string(db::latest_schema_version());
  } else {
    db["status"] = "pass";
  }
  return db;
}

json::value status_schema() {
  return json::parse(R"({"type":"object","required":["status"],
    "properties":{"status":{"type":"string","enum":["ok"]}}})");
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
  live.responses.push_back({503, "An event loop is stalled", "application/json", {}, {}});
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
      "Ready to take traffic: the database answers and its schema is current, and the process "
      "is not draining. 503 names the failing check. The database result is reused for one "
      "second. When Redis is configured but down the instance stays ready (rate limits go on "
      "in-process), with the rate_limiter check at warn.";
  ready.tag = "Health";
  ready.is_public = true;
  ready.rate_category = http::RateCategory::kExempt;
  ready.responses.push_back(
      {200, "Ready", "application/json",
       json::parse(R"({"type":"object","required":["status","checks"],"properties":{
         "status":{"type":"string","enum":["ready"]},"checks":{"type":"object"}}})"),
       json::parse(R"({"status":"ready","checks":{"database":{"status":"pass","engine":"sqlite",
         "response_time_ms":0.4,"schema_version":1}}})")});
  ready.responses.push_back({503, "Not ready", "application/json", {}, {}});
  auto cache = std::make_shared<ReadinessCache>();
  ready.handler = [&app, cache](http::Request&,
                                http::RequestContext&) -> boost::asio::awaitable<http::Response> {
    if (app.server_state->draining()) {
      co_return http::Response::json(
          503,
          R"({"status":"not_ready","checks":{"shutdown":{"status":"fail","detail":"draining"}}})");
    }
    json::object db;
    {
      std::lock_guard lock(cache->mu);
      if (cache->status && std::chrono::steady_clock::now() - cache->at < kReadinessReuse) {
        db = cache->database;
      }
    }
    if (db.empty()) {
      db = co_await app.workers->run([&app] { return check_database(app); });
      std::lock_guard lock(cache->mu);
      cache->at = std::chrono::steady_clock::now();
      cache->status = 1;
      cache->database = db;
    }
    const bool ok = db.at("status") == "pass";
    json::object body;
    body["status"] = ok ? "ready" : "not_ready";
    json::object checks;
    checks["database"] = std::move(db);
    // Redis down is not a reason to take the instance out: limits go on in-process.
    json::object limiter;
    const auto mode = app.limiter->mode();
    limiter["status"] = mode == ratelimit::StoreMode::kFallback ? "warn" : "pass";
    limiter["store"] = ratelimit::to_string(mode);
    if (mode == ratelimit::StoreMode::kFallback) {
      limiter["detail"] = "Redis unavailable; rate limits are enforced per instance";
      body["warnings"] = json::array{"rate limiter in fallback: Redis unavailable"};
    }
    checks["rate_limiter"] = std::move(limiter);
    body["checks"] = std::move(checks);
    co_return http::Response::json(ok ? 200 : 503, json::serialize(body));
  };
  routes.push_back(std::move(ready));
  return routes;
}

}  // namespace evald::api
