// GET /metrics/rate-limiting and DELETE /admin/rate-limits/{type}/{identifier}.

#include <boost/asio/ip/address.hpp>
#include <boost/json.hpp>

#include "api/routes.hpp"
#include "core/time_format.hpp"

namespace evald::api {
namespace {

namespace json = boost::json;
namespace asio = boost::asio;
using http::Request;
using http::RequestContext;
using http::Response;

double seconds(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

json::object stats_body(const ratelimit::Limiter& limiter, bool enabled) {
  const auto s = limiter.stats();
  const auto rules = limiter.rules();
  json::object o;
  o["enabled"] = enabled;
  o["store"] = ratelimit::to_string(s.mode);
  o["redis_connected"] = s.mode == ratelimit::StoreMode::kRedis;
  o["total_requests"] = s.total;
  o["allowed_requests"] = s.allowed;
  o["blocked_requests"] = s.refused;
  o["block_rate"] = s.total ? static_cast<double>(s.refused) / static_cast<double>(s.total) : 0.0;
  o["bypassed_requests"] = s.bypassed;
  o["decisions"] = json::object{{"redis", s.redis_decisions}, {"in_process", s.local_decisions}};
  o["penalties_active"] = s.penalties_active;
  o["tracked_keys_in_process"] = s.local_keys;
  if (s.redis) {
    json::object r;
    r["available"] = s.redis->available;
    r["trips"] = s.redis->trips;
    r["recoveries"] = s.redis->recoveries;
    r["calls"] = s.redis->calls;
    r["failures"] = s.redis->failures;
    r["last_probe_ms"] =
        s.redis->last_probe_ms >= 0 ? json::value(s.redis->last_probe_ms) : json::value();
    r["mode_since_seconds"] = static_cast<double>(s.redis->since_change_ms) / 1000.0;
    r["last_error"] =
        s.redis->last_error.empty() ? json::value() : json::value(s.redis->last_error);
    o["redis"] = std::move(r);
  } else {
    o["redis"] = nullptr;
  }
  json::array list;
  for (const auto& rule : rules->rules()) {
    json::object r;
    r["name"] = rule.name;
    r["scope"] = ratelimit::to_string(rule.scope);
    r["limit"] = rule.limit;
    r["window_seconds"] = seconds(rule.window);
    r["burst"] = rule.burst;
    r["penalty_seconds"] = rule.penalty.count();
    r["shadow"] = rule.shadow;
    ratelimit::RuleStats rs;
    if (auto it = s.rules.find(rule.name); it != s.rules.end()) rs = it->second;
    r["allowed"] = rs.allowed;
    r["refused"] = rs.refused;
    r["shadow_refused"] = rs.shadow_refused;
    r["penalties"] = rs.penalties;
    const auto seen = rs.allowed + rs.refused;
    r["refusal_rate"] = seen ? static_cast<double>(rs.refused) / static_cast<double>(seen) : 0.0;
    list.push_back(std::move(r));
  }
  o["rules"] = std::move(list);
  json::array recent;
  for (const auto& v : s.recent) {
    recent.push_back(json::object{
        {"timestamp", format_iso8601(SystemTime{std::chrono::milliseconds(v.at_ms)}, true)},
        {"key", v.key},
        {"client_ip", v.client_ip},
        {"path", v.route},
        {"violated_rules", json::array{json::value(v.rule)}},
        {"penalty", v.penalty}});
  }
  o["recent_violations"] = std::move(recent);
  return o;
}

bool is_user_id(std::string_view s) {
  return !s.empty() && s.size() <= 128 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

bool is_ip(std::string_view s) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(std::string(s), ec);
  return !ec;
}

}  // namespace

std::vector<http::RouteSpec> ratelimit_routes(AppContext& app) {
  std::vector<http::RouteSpec> routes;
  auto& limiter = *app.limiter;

  http::RouteSpec stats;
  stats.method = "GET";
  stats.path = "/metrics/rate-limiting";
  stats.summary = "Rate-limit statistics";
  stats.description =
      "Decisions since start on this instance: totals, allowed, refused and refusal rate per "
      "rule, penalties in force, the store in use (local, redis, or fallback when Redis is "
      "configured but not answering), and the last 50 refusals.";
  stats.tag = "Monitoring";
  stats.roles = {http::Role::kAdmin};
  stats.rate_category = http::RateCategory::kExempt;
  stats.admin_network = true;
  stats.responses.push_back(
      {200, "Statistics", "application/json",
       schema(R"({"type":"object","required":["store","total_requests","blocked_requests",
         "rules","recent_violations"]})"),
       schema(R"({"enabled":true,"store":"redis","redis_connected":true,"total_requests":120,
         "allowed_requests":118,"blocked_requests":2,"block_rate":0.0167,"penalties_active":0,
         "rules":[{"name":"per_ip:login","scope":"per_ip","limit":5,"window_seconds":300,
         "burst":5,"penalty_seconds":900,"shadow":false,"allowed":10,"refused":2,
         "shadow_refused":0,"penalties":0,"refusal_rate":0.1667}],
         "recent_violations":[{"timestamp":"2026-01-15T10:30:00.000Z",
         "key":"per_ip:login|203.0.113.9","client_ip":"203.0.113.9","path":"/auth/login",
         "violated_rules":["per_ip:login"],"penalty":false}]})")});
  const bool enabled = app.settings.ratelimit.enabled;
  stats.handler = [&limiter, enabled](Request&, RequestContext&) -> asio::awaitable<Response> {
    co_return ok_json(stats_body(limiter, enabled));
  };
  routes.push_back(std::move(stats));

  http::RouteSpec clear;
  clear.method = "DELETE";
  clear.path = "/admin/rate-limits/{type}/{identifier}";
  clear.summary = "Clear a client's rate limits";
  clear.description =
      "Forgets the buckets and penalty of one key, in-process and in Redis: type per_ip with an "
      "IP address, per_user with a user id, per_endpoint with a user id or IP address (every "
      "endpoint bucket of it), or global (identifier 'all'). Recorded as a security event.";
  clear.tag = "Admin";
  clear.roles = {http::Role::kAdmin};
  clear.rate_category = http::RateCategory::kAdmin;
  clear.admin_network = true;
  clear.params.push_back({"type", "path", true, "per_ip, per_user, per_endpoint or global",
                          schema(R"({"type":"string","enum":["per_ip","per_user",
                            "per_endpoint","global"]})")});
  clear.params.push_back({"identifier", "path", true, "IP address, user id, or 'all' (global)",
                          schema(R"({"type":"string","maxLength":128})")});
  clear.responses.push_back(
      {200, "Cleared", "application/json",
       schema(R"({"type":"object","required":["type","identifier","cleared"],"properties":{
         "type":{"type":"string"},"identifier":{"type":"string"},"cleared":{"type":"integer"}}})"),
       schema(R"({"type":"per_ip","identifier":"203.0.113.9","cleared":2})")});
  clear.handler = [&app](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
    const std::string type(ctx.param("type"));
    const std::string id(ctx.param("identifier"));
    std::vector<FieldError> problems;
    if (type != "per_ip" && type != "per_user" && type != "per_endpoint" && type != "global") {
      problems.push_back({"type", "Must be per_ip, per_user, per_endpoint or global",
                          "value_error.type", type.substr(0, 64)});
    } else if ((type == "per_ip" && !is_ip(id)) || (type == "per_user" && !is_user_id(id)) ||
               (type == "per_endpoint" && !is_ip(id) && !is_user_id(id)) ||
               (type == "global" && id != "all")) {
      problems.push_back({"identifier",
                          type == "per_ip"     ? "Must be an IP address"
                          : type == "per_user" ? "Must be a user id"
                          : type == "global"   ? "Must be 'all'"
                                               : "Must be a user id or an IP address",
                          "value_error.identifier", id.substr(0, 128)});
    }
    if (!problems.empty()) {
      co_return Response::from_error(ApiError::validation("Invalid rate-limit key", problems));
    }
    auto cleared = co_await app.limiter->clear(type, id);
    if (!cleared) {
      co_return Response::from_error(ApiError{ErrorCode::kExternalServiceError,
                                              "Redis is not answering; the shared limits were not "
                                              "cleared (this instance's were; try again)",
                                              {},
                                              0,
                                              "Redis clear failed"});
    }
    const auto client = auth::client_info(req, ctx);
    auto& auth = *app.auth;
    const auto who = *ctx.principal;
    const std::string details = type + " " + id + ": " + std::to_string(*cleared) + " keys";
    co_await app.workers->run(
        [&] { (void)auth.record("admin_rate_limit_cleared", &who, "", client, details); });
    co_return ok_json(json::object{{"type", type}, {"identifier", id}, {"cleared", *cleared}});
  };
  routes.push_back(std::move(clear));
  return routes;
}

}  // namespace evald::api
