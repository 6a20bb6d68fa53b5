#include <boost/json.hpp>

#include "api/routes.hpp"

namespace evald::api {
namespace {

namespace json = boost::json;

constexpr std::chrono::milliseconds kStalledLoopThreshold{5000};

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
  return routes;
}

}  // namespace evald::api
