// GET /admin/error-logs and GET /admin/error-stats.

#include <boost/json.hpp>
#include <charconv>

#include "api/listing.hpp"
#include "api/routes.hpp"
#include "core/time_format.hpp"
#include "http/query.hpp"

namespace evald::api {
namespace {

namespace json = boost::json;
namespace asio = boost::asio;

bool is_token(std::string_view s, std::size_t max) {
  return !s.empty() && s.size() <= max && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

const char* const kEntrySchema = R"({"type":"object","properties":{
  "id":{"type":"string"},"error_code":{"type":"string"},"category":{"type":"string"},
  "severity":{"type":"string"},"status":{"type":"integer"},"request_id":{"type":["string","null"]},
  "user_id":{"type":["string","null"]},"method":{"type":["string","null"]},
  "route":{"type":["string","null"]},"client_ip":{"type":["string","null"]},
  "user_agent":{"type":["string","null"]},"created_at":{"type":"string"}}})";

}  // namespace

std::vector<http::RouteSpec> error_log_routes(AppContext& app) {
  std::vector<http::RouteSpec> routes;
  auto& db = *app.db;
  auto& workers = *app.workers;

  http::RouteSpec list;
  list.method = "GET";
  list.path = "/admin/error-logs";
  list.summary = "Error log";
  list.description =
      "Every 5xx, 401, 403, 423 and 429 answered: code, category, severity, status, request id, "
      "user, method, route template, client IP, user agent, time (never headers, bodies or "
      "secrets). Newest first, paged with an opaque cursor. Entries are written in batches, "
      "within ERROR_LOG_FLUSH_MS, and kept ERROR_LOG_RETENTION_DAYS.";
  list.tag = "Admin";
  list.roles = {http::Role::kAdmin};
  list.rate_category = http::RateCategory::kAdmin;
  list.admin_network = true;
  for (auto [name, desc] : std::initializer_list<std::pair<const char*, const char*>>{
           {"since", "from this UTC time (ISO 8601)"},
           {"until", "before this UTC time (ISO 8601)"},
           {"code", "error code, e.g. RATE_LIMIT_EXCEEDED"},
           {"category", "validation, authentication, authorization, security, database, ..."},
           {"severity", "low, medium, high or critical"},
           {"user", "user id"},
           {"limit", "1 to 200, default 50"},
           {"cursor", "next_cursor of the previous page"}}) {
    list.params.push_back({name, "query", false, desc, schema(R"({"type":"string"})")});
  }
  list.responses.push_back(
      {200, "A page of entries", "application/json",
       schema(std::string(R"({"type":"object","required":["items","next_cursor"],"properties":{
         "items":{"type":"array","items":)") +
              kEntrySchema + R"(},"next_cursor":{"type":["string","null"]}}})"),
       schema(R"({"items":[{"id":"7b0c...","error_code":"AUTH_FAILED","category":"authentication",
         "severity":"medium","status":401,"request_id":"3f2a...","user_id":null,"method":"POST",
         "route":"/auth/login","client_ip":"203.0.113.9","user_agent":"curl/8.0",
         "created_at":"2026-01-15T10:30:00.000Z"}],"next_cursor":null})")});
  list.handler = [&db, &workers](http::Request& req,
                                 http::RequestContext&) -> asio::awaitable<http::Response> {
    Where where;
    std::vector<FieldError> problems;
    for (const auto& [param, column, max] :
         {std::tuple{"code", "error_code =", 64}, std::tuple{"category", "category =", 32},
          std::tuple{"severity", "severity =", 16}, std::tuple{"user", "user_id =", 128}}) {
      if (auto v = http::query_param(req.query, param)) {
        if (!is_token(*v, static_cast<std::size_t>(max))) {
          problems.push_back(
              {param, "Invalid value", std::string("value_error.") + param, v->substr(0, 128)});
        } else {
          where.add(column, *v);
        }
      }
    }
    read_time_range(req, where, problems);
    const Page page = read_page(req, where, problems);
    if (!problems.empty()) {
      co_return http::Response::from_error(ApiError::validation("Invalid query", problems));
    }
    const std::string sql =
        "SELECT id, error_code, category, severity, status, request_id, user_id, method, route, "
        "client_ip, user_agent, created_at FROM error_log" +
        where.sql() + newest_first(page);
    auto rows = co_await workers.run([&] { return db.query(sql, where.params()); });
    if (!rows) co_return http::Response::from_error(std::move(rows).error());
    json::array items;
    const auto n = std::min<std::size_t>(rows->size(), static_cast<std::size_t>(page.limit));
    for (std::size_t i = 0; i < n; ++i) {
      json::object o;
      for (const auto* col : {"id", "error_code", "category", "severity", "request_id", "user_id",
                              "method", "route", "client_ip", "user_agent", "created_at"}) {
        o[col] = rows->null_at(i, col) ? json::value() : json::value(rows->text(i, col));
      }
      o["status"] = rows->integer(i, "status");
      items.push_back(std::move(o));
    }
    co_return ok_json(
        json::object{{"items", std::move(items)}, {"next_cursor", next_cursor(*rows, page)}});
  };
  routes.push_back(std::move(list));

  http::RouteSpec stats;
  stats.method = "GET";
  stats.path = "/admin/error-stats";
  stats.summary = "Error statistics";
  stats.description =
      "Over the last `hours` (1 to 720, default 24): the total, counts by category and by "
      "severity, the ten most frequent codes, and the count per hour.";
  stats.tag = "Admin";
  stats.roles = {http::Role::kAdmin};
  stats.rate_category = http::RateCategory::kAdmin;
  stats.admin_network = true;
  stats.params.push_back({"hours", "query", false, "1 to 720, default 24",
                          schema(R"({"type":"integer","minimum":1,"maximum":720})")});
  stats.responses.push_back(
      {200, "Statistics", "application/json",
       schema(R"({"type":"object","required":["hours","since","total","by_category",
         "by_severity","top_codes","per_hour"]})"),
       schema(R"({"hours":24,"since":"2026-01-14T10:30:00.000Z","total":3,
         "by_category":{"authentication":2,"security":1},"by_severity":{"medium":3},
         "top_codes":[{"code":"AUTH_FAILED","count":2},{"code":"RATE_LIMIT_EXCEEDED","count":1}],
         "per_hour":[{"hour":"2026-01-15T10:00:00Z","count":3}]})")});
  stats.handler = [&app](http::Request& req,
                         http::RequestContext&) -> asio::awaitable<http::Response> {
    int hours = 24;
    if (auto h = http::query_param(req.query, "hours")) {
      auto [p, ec] = std::from_chars(h->data(), h->data() + h->size(), hours);
      if (ec != std::errc{} || p != h->data() + h->size() || hours < 1 || hours > 720) {
        co_return http::Response::from_error(
            ApiError::validation("Invalid query", {{"hours", "Must be a whole number from 1 to 720",
                                                    "value_error.hours", h->substr(0, 32)}}));
      }
    }
    const auto since = format_iso8601(app.clock.now() - std::chrono::hours(hours), true);
    auto& db = *app.db;
    auto result = co_await app.workers->run([&]() -> Result<json::object> {
      json::object body;
      body["hours"] = hours;
      body["since"] = since;
      std::int64_t total = 0;
      for (const auto* column : {"category", "severity"}) {
        auto rows = db.query(std::string("SELECT ") + column +
                                 " AS k, COUNT(*) AS n FROM error_log WHERE created_at >= $1 "
                                 "GROUP BY " +
                                 column + " ORDER BY n DESC",
                             {since});
        if (!rows) return std::move(rows).error();
        json::object counts;
        std::int64_t sum = 0;
        for (std::size_t i = 0; i < rows->size(); ++i) {
          counts[rows->text(i, "k")] = rows->integer(i, "n");
          sum += rows->integer(i, "n");
        }
        total = sum;
        body[std::string("by_") + column] = std::move(counts);
      }
      body["total"] = total;
      auto codes = db.query(
          "SELECT error_code, COUNT(*) AS n FROM error_log WHERE created_at >= $1 "
          "GROUP BY error_code ORDER BY n DESC, error_code LIMIT 10",
          {since});
      if (!codes) return std::move(codes).error();
      json::array top;
      for (std::size_t i = 0; i < codes->size(); ++i) {
        top.push_back(json::object{{"code", codes->text(i, "error_code")},
                                   {"count", codes->integer(i, "n")}});
      }
      body["top_codes"] = std::move(top);
      // ISO 8601 text: the first 13 characters are the hour on both engines.
      auto per_hour = db.query(
          "SELECT SUBSTR(created_at, 1, 13) AS h, COUNT(*) AS n FROM error_log "
          "WHERE created_at >= $1 GROUP BY SUBSTR(created_at, 1, 13) ORDER BY h",
          {since});
      if (!per_hour) return std::move(per_hour).error();
      json::array hours_out;
      for (std::size_t i = 0; i < per_hour->size(); ++i) {
        hours_out.push_back(json::object{{"hour", per_hour->text(i, "h") + ":00:00Z"},
                                         {"count", per_hour->integer(i, "n")}});
      }
      body["per_hour"] = std::move(hours_out);
      return body;
    });
    if (!result) co_return http::Response::from_error(std::move(result).error());
    co_return ok_json(*result);
  };
  routes.push_back(std::move(stats));
  return routes;
}

}  // namespace evald::api
