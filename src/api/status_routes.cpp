// GET /status/data: what the status page shows. The dependencies come from the background
// health checks' last snapshot (database, mail outbox, disk: those checks query on the health
// monitor's thread, so nothing here blocks) and from the limiter's live state (Redis); the
// series from the in-memory traffic history.

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>

#include "api/routes.hpp"
#include "core/time_format.hpp"

namespace evald::api {
namespace {

namespace json = boost::json;
namespace asio = boost::asio;
using http::Request;
using http::RequestContext;
using http::Response;
using monitoring::CheckResult;
using monitoring::CheckStatus;

json::value rounded(double v) { return std::round(v * 1000.0) / 1000.0; }

json::value ms_or_null(double ms) { return ms >= 0 ? rounded(ms) : json::value(); }

const char* state_of(CheckStatus s) {
  switch (s) {
    case CheckStatus::kPass:
      return "ok";
    case CheckStatus::kWarn:
      return "degraded";
    case CheckStatus::kFail:
      return "down";
  }
  return "down";
}

std::string bytes_text(std::uint64_t b) {
  static constexpr const char* kUnits[] = {"B", "KB", "MB", "GB", "TB", "PB"};
  double v = static_cast<double>(b);
  std::size_t u = 0;
  while (v >= 1000 && u + 1 < std::size(kUnits)) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, kUnits[u]);
  return buf;
}

std::string ms_text(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, ms < 10 ? "%.1f ms" : "%.0f ms", ms);
  return buf;
}

std::uint64_t uint_or(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64()) return v->as_int64() > 0 ? static_cast<std::uint64_t>(v->as_int64()) : 0;
  return 0;
}

// The snapshot's result for a component, and whether it is recent enough to believe.
struct Found {
  const CheckResult* check = nullptr;
  std::string problem;  ///< why it is missing or stale
};

class Checks {
 public:
  explicit Checks(AppContext& app) : snap_(app.health->latest()) {
    if (!snap_) {
      problem_ = "not checked yet";
      return;
    }
    const auto age = std::chrono::steady_clock::now() - snap_->taken;
    const auto stale = std::max(std::chrono::milliseconds(15'000), 3 * app.health->interval());
    if (age > stale) {
      problem_ = "the health checks have not run for " +
                 std::to_string(std::chrono::duration_cast<std::chrono::seconds>(age).count()) +
                 " s";
    }
  }
  Found find(std::string_view component) const {
    Found f;
    f.problem = problem_;
    if (!snap_) return f;
    for (const auto& c : snap_->checks) {
      if (c.component == component) f.check = &c;
    }
    if (!f.check && f.problem.empty()) f.problem = "not checked";
    return f;
  }
  std::optional<SystemTime> checked_at() const {
    return snap_ ? std::optional(snap_->time) : std::nullopt;
  }

 private:
  std::shared_ptr<const monitoring::Snapshot> snap_;
  std::string problem_;
};

// State and detail from a check; a stale or missing result is at best degraded.
void set_state(json::object& o, const Found& f, std::string ok_detail) {
  std::string state = f.check ? state_of(f.check->status) : "degraded";
  std::string detail = f.check && f.check->status != CheckStatus::kPass ? f.check->detail : "";
  if (detail.empty()) detail = std::move(ok_detail);
  if (!f.problem.empty()) {
    if (state == "ok") state = "degraded";
    detail = f.problem + (f.check ? "; last: " + detail : "");
  }
  o["state"] = state;
  o["detail"] = detail;
}

json::object database_json(AppContext& app, const Checks& checks) {
  const auto f = checks.find("database");
  const std::string engine(db::to_string(app.db->engine()));
  json::object o{{"engine", engine}, {"latency_ms", nullptr}};
  std::string ok = engine;
  if (f.check) {
    o["latency_ms"] = ms_or_null(f.check->response_time_ms);
    if (f.check->response_time_ms >= 0) ok += ", answered in " + ms_text(f.check->response_time_ms);
    for (const char* key : {"schema_version", "pool"}) {
      if (const auto* v = f.check->data.if_contains(key)) o[key] = *v;
    }
  }
  set_state(o, f, ok);
  return o;
}

json::object redis_json(AppContext& app) {
  const bool configured = !app.settings.ratelimit.redis_url.empty();
  json::object o{{"configured", configured}, {"latency_ms", nullptr}};
  if (!app.settings.ratelimit.enabled) {
    o["state"] = "disabled";
    o["store"] = "none";
    o["detail"] = "rate limiting is off (RATE_LIMIT_ENABLED=false)";
    return o;
  }
  const auto stats = app.limiter->stats();
  o["store"] = ratelimit::to_string(stats.mode);
  if (!stats.redis) {
    o["state"] = "disabled";
    o["detail"] = "REDIS_URL is not set: rate limits are kept in this process";
    return o;
  }
  o["trips"] = stats.redis->trips;
  if (stats.mode == ratelimit::StoreMode::kRedis) {
    o["state"] = "ok";
    o["latency_ms"] = ms_or_null(stats.redis->last_probe_ms);
    o["detail"] = stats.redis->last_probe_ms >= 0
                      ? "limits shared through Redis; probe " + ms_text(stats.redis->last_probe_ms)
                      : "limits shared through Redis";
  } else {
    o["state"] = "fallback";
    o["detail"] = "Redis does not answer" +
                  (stats.redis->last_error.empty() ? "" : " (" + stats.redis->last_error + ")") +
                  ": limits are kept in this process until it does";
  }
  return o;
}

json::object mail_json(AppContext& app, const Checks& checks) {
  const auto f = checks.find("mail_outbox");
  const bool smtp = !app.settings.mail.smtp_server.empty();
  json::object o{{"smtp_configured", smtp}, {"outbox_pending", nullptr}};
  std::uint64_t pending = 0;
  if (f.check && f.check->data.contains("pending")) {
    pending = uint_or(f.check->data, "pending");
    o["outbox_pending"] = pending;
  }
  std::string ok = std::to_string(pending) + " waiting in the outbox";
  if (app.outbox) {
    const auto s = app.outbox->stats();
    o["sent"] = s.sent;
    o["failed_attempts"] = s.failed_attempts;
    o["gave_up"] = s.gave_up;
    ok += ", " + std::to_string(s.sent) + " sent";
    if (s.failed_attempts) ok += ", " + std::to_string(s.failed_attempts) + " failed attempts";
  }
  set_state(o, f, ok);
  // Without SMTP_SERVER mail is not sent at all: off, unless something is waiting for it.
  if (!smtp && o["state"].as_string() == "ok") {
    o["state"] = "disabled";
    o["detail"] = "SMTP_SERVER is not set; mail would wait in the outbox";
  }
  return o;
}

json::object disk_json(const Checks& checks) {
  const auto f = checks.find("disk");
  json::object o{{"free_bytes", nullptr}, {"total_bytes", nullptr}, {"used_percent", nullptr}};
  std::string ok;
  if (f.check) {
    const auto& d = f.check->data;
    if (const auto* p = d.if_contains("path")) o["path"] = *p;
    if (d.contains("free_bytes")) {
      const auto free = uint_or(d, "free_bytes");
      const auto total = uint_or(d, "total_bytes");
      o["free_bytes"] = free;
      o["total_bytes"] = total;
      if (const auto* u = d.if_contains("used_percent"); u && u->is_number()) {
        o["used_percent"] = rounded(u->to_number<double>());
      }
      ok = bytes_text(free) + " free of " + bytes_text(total);
    }
  }
  set_state(o, f, ok);
  return o;
}

json::object series_json(const metrics::TrafficHistory& history) {
  const auto steps = history.steps();
  json::array t, requests, rate, p50, p99, refusals, failed;
  // Categories in the error table's order; only those seen in the window are sent.
  std::vector<std::string_view> category_of(metrics::TrafficHistory::kErrorCodes);
  std::vector<std::string_view> categories;
  for (auto code : all_error_codes()) {
    const auto c = error_info(code).category;
    category_of[static_cast<std::size_t>(code)] = c;
    if (std::find(categories.begin(), categories.end(), c) == categories.end()) {
      categories.push_back(c);
    }
  }
  std::vector<std::vector<std::uint64_t>> by_category(categories.size(),
                                                      std::vector<std::uint64_t>(steps.size()));
  std::vector<bool> seen(categories.size());
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const auto& s = steps[i];
    t.push_back(json::value(format_iso8601(s.start)));
    requests.push_back(s.requests);
    rate.push_back(rounded(s.request_rate()));
    p50.push_back(s.p50_ms ? rounded(*s.p50_ms) : json::value());
    p99.push_back(s.p99_ms ? rounded(*s.p99_ms) : json::value());
    refusals.push_back(s.rate_limit_refusals);
    failed.push_back(s.failed_logins);
    for (std::size_t code = 0; code < s.errors.size(); ++code) {
      if (!s.errors[code] || category_of[code].empty()) continue;
      const auto k = static_cast<std::size_t>(
          std::find(categories.begin(), categories.end(), category_of[code]) - categories.begin());
      by_category[k][i] += s.errors[code];
      seen[k] = true;
    }
  }
  json::object errors;
  for (std::size_t k = 0; k < categories.size(); ++k) {
    if (!seen[k]) continue;
    json::array a;
    for (auto n : by_category[k]) a.push_back(n);
    errors[categories[k]] = std::move(a);
  }
  return json::object{{"t", std::move(t)},
                      {"requests", std::move(requests)},
                      {"request_rate", std::move(rate)},
                      {"p50_ms", std::move(p50)},
                      {"p99_ms", std::move(p99)},
                      {"errors", std::move(errors)},
                      {"rate_limit_refusals", std::move(refusals)},
                      {"failed_logins", std::move(failed)}};
}

// Each dependency: {state, detail, ...}; the states the page knows.
const char* const kDependencySchema = R"J({"type":"object","required":["state","detail"],
  "properties":{"state":{"type":"string","enum":["ok","degraded","down","fallback","disabled"]},
  "detail":{"type":"string"}}})J";
const char* const kCounts =
    R"J({"type":"array","maxItems":360,"items":{"type":"integer","minimum":0}})J";
const char* const kNumbers = R"J({"type":"array","maxItems":360,"items":{"type":"number"}})J";
const char* const kMillis =
    R"J({"type":"array","maxItems":360,"items":{"type":["number","null"]}})J";

std::string data_schema() {
  const std::string dep = kDependencySchema;
  auto with = [&](std::string extra) {
    // The shared part plus the dependency's own fields, required.
    return R"J({"allOf":[)J" + dep + "," + extra + "]}";
  };
  return std::string(R"J({"type":"object",
    "required":["generated_at","step_seconds","window_seconds","dependencies","series"],
    "properties":{
    "generated_at":{"type":"string","format":"date-time"},
    "step_seconds":{"type":"integer","minimum":1},
    "window_seconds":{"type":"integer","minimum":1},
    "dependencies":{"type":"object","required":["database","redis","mail","disk"],
      "properties":{"database":)J") +
         with(R"J({"type":"object","required":["engine","latency_ms"],"properties":{
           "engine":{"type":"string","enum":["sqlite","postgresql"]},
           "latency_ms":{"type":["number","null"]},"schema_version":{"type":"integer"},
           "pool":{"type":"object"}}})J") +
         R"J(,"redis":)J" +
         with(R"J({"type":"object","required":["configured","store","latency_ms"],"properties":{
           "configured":{"type":"boolean"},
           "store":{"type":"string","enum":["none","local","redis","fallback"]},
           "latency_ms":{"type":["number","null"]},"trips":{"type":"integer"}}})J") +
         R"J(,"mail":)J" +
         with(R"J({"type":"object","required":["smtp_configured","outbox_pending"],"properties":{
           "smtp_configured":{"type":"boolean"},
           "outbox_pending":{"type":["integer","null"],"minimum":0},
           "sent":{"type":"integer"},"failed_attempts":{"type":"integer"},
           "gave_up":{"type":"integer"}}})J") +
         R"J(,"disk":)J" +
         with(R"J({"type":"object","required":["free_bytes","total_bytes","used_percent"],
           "properties":{"path":{"type":"string"},"free_bytes":{"type":["integer","null"]},
           "total_bytes":{"type":["integer","null"]},
           "used_percent":{"type":["number","null"]}}})J") +
         R"J(}},
    "series":{"type":"object","required":["t","requests","request_rate","p50_ms","p99_ms",
      "errors","rate_limit_refusals","failed_logins"],"properties":{
      "t":{"type":"array","maxItems":360,"items":{"type":"string","format":"date-time"}},
      "requests":)J" +
         kCounts + R"J(,"request_rate":)J" + kNumbers + R"J(,"p50_ms":)J" + kMillis +
         R"J(,"p99_ms":)J" + kMillis +
         R"J(,"errors":{"type":"object","propertyNames":{"enum":["validation","authentication",
           "authorization","business_logic","security","database","external_service",
           "system"]},"additionalProperties":)J" +
         kCounts + R"J(},"rate_limit_refusals":)J" + kCounts + R"J(,"failed_logins":)J" + kCounts +
         "}}}}";
}

const char* const kDataExample = R"J({"generated_at":"2026-01-15T10:30:04.512Z",
  "step_seconds":10,"window_seconds":3600,
  "dependencies":{
    "database":{"state":"ok","detail":"sqlite, answered in 0.4 ms","engine":"sqlite",
      "latency_ms":0.4,"schema_version":3},
    "redis":{"state":"disabled","detail":"REDIS_URL is not set: rate limits are kept in this process",
      "configured":false,"store":"local","latency_ms":null},
    "mail":{"state":"ok","detail":"0 waiting in the outbox, 12 sent","smtp_configured":true,
      "outbox_pending":0,"sent":12,"failed_attempts":0,"gave_up":0},
    "disk":{"state":"ok","detail":"41.2 GB free of 105.1 GB","path":"data",
      "free_bytes":41203548160,"total_bytes":105089261568,"used_percent":60.793}},
  "series":{"t":["2026-01-15T10:29:50Z","2026-01-15T10:30:00Z"],"requests":[42,9],
    "request_rate":[4.2,2.25],"p50_ms":[1.3,1.1],"p99_ms":[48.2,9.7],
    "errors":{"business_logic":[1,0],"authentication":[2,1]},
    "rate_limit_refusals":[0,0],"failed_logins":[2,1]}})J";

}  // namespace

std::vector<http::RouteSpec> status_routes(AppContext& app) {
  http::RouteSpec data;
  data.method = "GET";
  data.path = "/status/data";
  data.summary = "The status page's data";
  data.tag = "Monitoring";
  data.roles = {http::Role::kAdmin};
  data.rate_category = http::RateCategory::kAdmin;
  data.admin_network = true;
  data.description =
      "What GET /status draws, for admins. `dependencies`: the database, Redis, the mail outbox "
      "and the data disk, each with a `state` (ok, degraded, down; Redis `fallback` while it "
      "does not answer and limits are kept in-process, `disabled` when REDIS_URL is not set or "
      "rate limiting is off; mail `disabled` without SMTP_SERVER and nothing waiting) and a "
      "short `detail`, from the last background health check (every "
      "HEALTH_CHECK_INTERVAL_MS) and the limiter's live state. `series`: the last hour of this "
      "instance in steps of `step_seconds`, oldest first, every array aligned with `t` (each "
      "step's start), back to when the process started at most, the step in progress last: "
      "requests and requests per second, p50 and p99 latency in ms (null for a step without "
      "requests), error responses per step by category (only categories seen in the window), "
      "rate-limit refusals (429) and failed logins (wrong password or MFA code, or a locked "
      "account). Kept in memory: a restart starts it again.";
  data.responses.push_back({200, "The dependencies and the last hour", "application/json",
                            schema(data_schema()), schema(kDataExample)});
  data.handler = [&app](Request&, RequestContext&) -> asio::awaitable<Response> {
    const Checks checks(app);
    json::object deps{{"database", database_json(app, checks)},
                      {"redis", redis_json(app)},
                      {"mail", mail_json(app, checks)},
                      {"disk", disk_json(checks)}};
    const auto& history = *app.traffic;
    json::object body{{"generated_at", format_iso8601(app.clock.now(), true)},
                      {"step_seconds", history.step().count()},
                      {"window_seconds", history.window().count()},
                      {"dependencies", std::move(deps)},
                      {"series", series_json(history)}};
    if (const auto at = checks.checked_at()) body["checked_at"] = format_iso8601(*at, true);
    co_return ok_json(body);
  };
  return {std::move(data)};
}

}  // namespace evald::api
