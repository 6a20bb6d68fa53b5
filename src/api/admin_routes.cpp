// Operations: backups from the API, /metrics/database, /status/comprehensive, and the graceful
// shutdown.

#include <boost/json.hpp>
#include <filesystem>

#include "api/routes.hpp"
#include "core/time_format.hpp"

namespace evald::api {
namespace {

namespace json = boost::json;
namespace asio = boost::asio;
using http::Request;
using http::RequestContext;
using http::Response;

ApiError no_backup_dir() {
  return ApiError{ErrorCode::kBusinessLogicError,
                  "Backups are off: set BACKUP_DIR to a directory evald may write",
                  {},
                  0,
                  {}};
}

json::object backup_stats_json(const db::BackupScheduleStats& s) {
  auto when = [](const std::optional<SystemTime>& t) {
    return t ? json::value(format_iso8601(*t, true)) : json::value();
  };
  return json::object{
      {"successes", s.successes},
      {"failures", s.failures},
      {"last_success", when(s.last_success)},
      {"last_failure", when(s.last_failure)},
      {"last_error", s.last_error.empty() ? json::value() : json::value(s.last_error)},
      {"next_due", format_iso8601(s.next_due, true)}};
}

json::object database_json(AppContext& app) {
  auto& db = *app.db;
  auto& monitor = db.monitor();
  const auto pool = db.pool_stats();
  const auto cache = db.cache().stats();
  json::array statements;
  std::size_t shown = 0;
  for (const auto& s : monitor.statements()) {
    if (++shown > 20) break;
    statements.push_back(json::object{{"sql", s.sql},
                                      {"count", s.count},
                                      {"failures", s.failures},
                                      {"mean_ms", s.mean_ms()},
                                      {"max_ms", s.max_ms},
                                      {"total_ms", s.total_ms},
                                      {"slow", s.slow}});
  }
  json::array slow;
  for (const auto& q : monitor.recent_slow()) {
    slow.push_back(json::object{{"sql", q.sql}, {"ms", q.ms}, {"at", format_iso8601(q.at, true)}});
  }
  const auto lookups = cache.hits + cache.misses;
  return json::object{
      {"engine", db::to_string(db.engine())},
      {"pool", json::object{{"open", pool.open},
                            {"in_use", pool.in_use},
                            {"idle", pool.idle},
                            {"max", pool.max},
                            {"waits", pool.waits},
                            {"wait_ms_total", pool.wait_ms_total},
                            {"timeouts", pool.timeouts},
                            {"failed_connects", pool.failed_connects},
                            {"replaced", pool.replaced}}},
      {"queries", json::object{{"total", monitor.total_queries()},
                               {"failures", monitor.total_failures()},
                               {"slow", monitor.total_slow()},
                               {"slow_threshold_ms", monitor.slow_threshold().count()}}},
      {"top_statements", std::move(statements)},
      {"recent_slow_queries", std::move(slow)},
      {"cache", json::object{{"hits", cache.hits},
                             {"misses", cache.misses},
                             {"hit_rate", lookups ? static_cast<double>(cache.hits) /
                                                        static_cast<double>(lookups)
                                                  : 0.0},
                             {"entries", cache.entries},
                             {"evictions", cache.evictions},
                             {"invalidations", cache.invalidations},
                             {"expirations", cache.expirations}}}};
}

http::RouteSpec admin_route(std::string method, std::string path, std::string summary,
                            std::string tag) {
  http::RouteSpec r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.summary = std::move(summary);
  r.tag = std::move(tag);
  r.roles = {http::Role::kAdmin};
  r.rate_category = http::RateCategory::kAdmin;
  r.admin_network = true;
  return r;
}

}  // namespace

std::vector<http::RouteSpec> admin_routes(AppContext& app) {
  std::vector<http::RouteSpec> routes;

  auto create = admin_route("POST", "/admin/backups", "Back up now", "Admin");
  create.description =
      "Writes a consistent, verified backup of every table into BACKUP_DIR (the same format as "
      "`evald backup`) and answers its name, size, the SHA-256 of the file (what sha256sum "
      "prints) and the checksum in its end line (content_sha256, see docs/BACKUP_FORMAT.md). "
      "422 when BACKUP_DIR is not set.";
  create.responses.push_back(
      {201, "Written and verified", "application/json",
       schema(R"({"type":"object","required":["name","size_bytes","sha256","content_sha256",
         "created_at","rows","schema_version"],"properties":{"name":{"type":"string"},
         "size_bytes":{"type":"integer","minimum":0},
         "sha256":{"type":"string","description":"of the file, as sha256sum prints it"},
         "content_sha256":{"type":"string","description":"the checksum in the end line"},
         "created_at":{"type":"string","format":"date-time"},"rows":{"type":"integer"},
         "schema_version":{"type":"integer"}}})"),
       schema(R"({"name":"evald-20260115T103000Z.jsonl","size_bytes":18231,
         "sha256":"9f2c...","content_sha256":"41d7...","created_at":"2026-01-15T10:30:00.000Z",
         "rows":412,"schema_version":2})")});
  create.responses.push_back(
      {422, "Backups are off: BACKUP_DIR is not set", "application/json", {}, {}});
  create.handler = [&app](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
    if (!app.backups) co_return Response::from_error(no_backup_dir());
    auto made = co_await app.workers->run([&] { return app.backups->run_now(); });
    if (!made) co_return Response::from_error(std::move(made).error());
    const auto client = auth::client_info(req, ctx);
    const auto who = *ctx.principal;
    const std::string name = std::filesystem::path(made->path).filename().string();
    co_await app.workers->run(
        [&] { (void)app.auth->record("admin_backup_created", &who, "", client, name); });
    const auto file_hash = co_await app.workers->run([&] { return db::sha256_file(made->path); });
    co_return ok_json(json::object{{"name", name},
                                   {"size_bytes", made->size_bytes},
                                   {"sha256", file_hash},
                                   {"content_sha256", made->sha256},
                                   {"created_at", made->created_at},
                                   {"rows", made->rows},
                                   {"schema_version", made->schema_version}},
                      201);
  };
  routes.push_back(std::move(create));

  auto list = admin_route("GET", "/admin/backups", "List backups", "Admin");
  list.description =
      "The backups in BACKUP_DIR, newest first, each verified again (checksum and row counts), "
      "and the schedule's state (last success, failures, next run).";
  list.responses.push_back(
      {200, "Backups", "application/json",
       schema(R"({"type":"object","required":["items","schedule"],"properties":{
         "items":{"type":"array","items":{"type":"object","required":["name","size_bytes",
         "sha256","content_sha256","verified","problem"],"properties":{"name":{"type":"string"},
         "size_bytes":{"type":"integer","minimum":0},"sha256":{"type":["string","null"]},
         "content_sha256":{"type":["string","null"]},"verified":{"type":"boolean"},
         "problem":{"type":["string","null"]}}}},
         "schedule":{"type":"object","required":["successes","failures","last_success",
         "last_failure","last_error","next_due"],"properties":{"successes":{"type":"integer"},
         "failures":{"type":"integer"},
         "last_success":{"type":["string","null"],"format":"date-time"},
         "last_failure":{"type":["string","null"],"format":"date-time"},
         "last_error":{"type":["string","null"]},
         "next_due":{"type":"string","format":"date-time"}}}}})"),
       schema(R"({"items":[{"name":"evald-20260115T103000Z.jsonl","size_bytes":18231,
         "sha256":"9f2c...","content_sha256":"41d7...","verified":true,"problem":null}],"schedule":{"successes":1,
         "failures":0,"last_success":"2026-01-15T10:30:00.000Z","last_failure":null,
         "last_error":null,"next_due":"2026-01-16T10:30:00.000Z"}})")});
  list.responses.push_back(
      {422, "Backups are off: BACKUP_DIR is not set", "application/json", {}, {}});
  list.handler = [&app](Request&, RequestContext&) -> asio::awaitable<Response> {
    if (!app.backups) co_return Response::from_error(no_backup_dir());
    auto files = co_await app.workers->run([&] { return app.backups->list(); });
    json::array items;
    for (const auto& f : files) {
      items.push_back(json::object{
          {"name", f.name},
          {"size_bytes", f.size_bytes},
          {"sha256", f.file_sha256.empty() ? json::value() : json::value(f.file_sha256)},
          {"content_sha256", f.sha256.empty() ? json::value() : json::value(f.sha256)},
          {"verified", f.verified},
          {"problem", f.problem.empty() ? json::value() : json::value(f.problem)}});
    }
    co_return ok_json(json::object{{"items", std::move(items)},
                                   {"schedule", backup_stats_json(app.backups->stats())}});
  };
  routes.push_back(std::move(list));

  auto database = admin_route("GET", "/metrics/database", "Database statistics", "Monitoring");
  database.description =
      "The pool (open, in use, idle, waits, timeouts, replaced connections), query totals, the "
      "20 statements with the most total time, the recent slow queries, and the query cache.";
  database.rate_category = http::RateCategory::kExempt;
  database.responses.push_back(
      {200, "Statistics", "application/json",
       schema(R"({"type":"object","required":["engine","pool","queries","cache"]})"),
       schema(R"({"engine":"sqlite","pool":{"open":8,"in_use":0,"idle":8,"max":20},
         "queries":{"total":1200,"failures":0,"slow":1,"slow_threshold_ms":200},
         "top_statements":[],"recent_slow_queries":[],"cache":{"hits":10,"misses":4,
         "hit_rate":0.714,"entries":4}})")});
  database.handler = [&app](Request&, RequestContext&) -> asio::awaitable<Response> {
    co_return ok_json(database_json(app));
  };
  routes.push_back(std::move(database));

  auto status = admin_route("GET", "/status/comprehensive", "Everything at once", "Monitoring");
  status.description =
      "Version, build, environment, uptime, the last health check, rate limiting, request and "
      "error totals, the error log writer, and backups.";
  status.rate_category = http::RateCategory::kExempt;
  status.responses.push_back(
      {200, "Status", "application/json",
       schema(R"({"type":"object","required":["version","environment","health",
         "rate_limiting","requests"]})"),
       schema(R"({"version":"1.1.0","environment":"production","uptime_seconds":3600,
         "health":{"status":"healthy"},"rate_limiting":{"store":"redis"},
         "requests":{"total":1200,"client_errors":30,"server_errors":0}})")});
  status.handler = [&app](Request&, RequestContext&) -> asio::awaitable<Response> {
    const auto now = std::chrono::steady_clock::now();
    json::object body;
    body["version"] = app.settings.api_version;
    body["build"] =
        json::object{{"version", build_info().version}, {"commit", build_info().commit}};
    body["environment"] = to_string(app.settings.environment);
    body["uptime_seconds"] = std::chrono::duration<double>(now - app.server_state->started).count();
    body["timestamp"] = format_iso8601(app.clock.now(), true);
    const auto snap = app.health->latest();
    body["health"] = snap ? json::value(monitoring::to_json(*snap, now)) : json::value();
    const auto limits = app.limiter->stats();
    body["rate_limiting"] = json::object{{"enabled", app.settings.ratelimit.enabled},
                                         {"store", ratelimit::to_string(limits.mode)},
                                         {"total_requests", limits.total},
                                         {"blocked_requests", limits.refused},
                                         {"bypassed_requests", limits.bypassed},
                                         {"penalties_active", limits.penalties_active}};
    const auto t = app.metrics->http().totals();
    json::object by_code;
    for (const auto& [k, v] : t.errors_by_code) by_code[k] = v;
    json::object by_category;
    for (const auto& [k, v] : t.errors_by_category) by_category[k] = v;
    body["requests"] = json::object{{"total", t.requests},
                                    {"in_flight", app.metrics->http().in_flight()},
                                    {"client_errors", t.errors_4xx},
                                    {"server_errors", t.errors_5xx},
                                    {"errors_by_code", std::move(by_code)},
                                    {"errors_by_category", std::move(by_category)}};
    body["error_log"] = json::object{{"written", app.error_log->written()},
                                     {"dropped", app.error_log->dropped()},
                                     {"failed", app.error_log->failed()}};
    body["connections"] =
        json::object{{"open", app.server_state->open_connections.load()},
                     {"refused", app.server_state->refused_connections.load()},
                     {"displaced", app.server_state->displaced_connections.load()},
                     {"tls_handshake_failures", app.server_state->tls_handshake_failures.load()}};
    body["backups"] =
        app.backups ? json::value(backup_stats_json(app.backups->stats())) : json::value();
    co_return ok_json(body);
  };
  routes.push_back(std::move(status));

  auto shutdown = admin_route("POST", "/admin/shutdown", "Shut down gracefully", "Admin");
  shutdown.description =
      "Starts the same graceful drain as SIGTERM: readiness turns 503 at once, requests in "
      "flight complete, then the process exits 0. Recorded as a security event.";
  shutdown.responses.push_back({202, "Draining", "application/json",
                                schema(R"({"type":"object","required":["status"],"properties":{
         "status":{"type":"string","enum":["shutting_down"]}}})"),
                                schema(R"({"status":"shutting_down","drain_timeout_ms":25000})")});
  shutdown.handler = [&app](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
    const auto client = auth::client_info(req, ctx);
    const auto who = *ctx.principal;
    co_await app.workers->run([&] {
      (void)app.auth->record("admin_shutdown", &who, "", client, "POST /admin/shutdown");
    });
    if (app.server_state->request_stop) app.server_state->request_stop();
    co_return ok_json(json::object{{"status", "shutting_down"},
                                   {"drain_timeout_ms", app.settings.server.drain_timeout_ms}},
                      202);
  };
  routes.push_back(std::move(shutdown));
  return routes;
}

}  // namespace evald::api
