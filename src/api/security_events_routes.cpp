// GET /auth/security-events: the caller's own events; an admin sees everyone's.

#include <boost/json.hpp>
#include <charconv>

#include "api/auth_schemas.hpp"
#include "api/listing.hpp"
#include "api/routes.hpp"
#include "auth/jwt.hpp"
#include "auth/service.hpp"
#include "core/time_format.hpp"
#include "http/body.hpp"
#include "http/query.hpp"

namespace evald::api {
namespace {

namespace json = boost::json;
namespace asio = boost::asio;

bool is_event_type(std::string_view s) {
  return !s.empty() && s.size() <= 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}

}  // namespace

std::vector<http::RouteSpec> security_event_routes(AppContext& app) {
  auto& auth = *app.auth;
  auto& workers = *app.workers;
  http::RouteSpec r;
  r.method = "GET";
  r.path = "/auth/security-events";
  r.summary = "Security events";
  r.description =
      "Sign-ins, failures, lockouts, password and session changes, refused authorisations. "
      "Your own events; an admin sees everyone's and may filter by user_id. Newest first, "
      "paged with an opaque cursor.";
  r.tag = "Authentication";
  for (auto [name, desc] : std::initializer_list<std::pair<const char*, const char*>>{
           {"event_type", "only this type (authn_login_fail, session_revoked, ...)"},
           {"since", "from this UTC time (ISO 8601)"},
           {"until", "before this UTC time (ISO 8601)"},
           {"user_id", "admin only: whose events"},
           {"limit", "1 to 200, default 50"},
           {"cursor", "next_cursor of the previous page"}}) {
    r.params.push_back({name, "query", false, desc, json::parse(R"({"type":"string"})")});
  }
  r.responses.push_back(
      {200, "A page of events, newest first", "application/json",
       json::parse(std::string(R"({"type":"object","required":["items","next_cursor"],
         "additionalProperties":false,"properties":{"items":{"type":"array","items":)") +
                   auth_docs::kEventSchema + R"(},"next_cursor":{"type":["string","null"]}}})"),
       json::parse(std::string(R"({"items":[)") + auth_docs::kEventExample +
                   R"(],"next_cursor":null})")});
  r.responses.push_back({403,
                         "user_id names another user and the caller is not an admin",
                         "application/json",
                         {},
                         {}});
  r.handler = [&](http::Request& req,
                  http::RequestContext& ctx) -> asio::awaitable<http::Response> {
    Where where;
    std::vector<FieldError> problems;
    const bool admin = ctx.principal->role == "admin";
    const auto user = http::query_param(req.query, "user_id");
    if (user && !user->empty() && !admin && *user != ctx.principal->user_id) {
      co_return http::Response::from_error(
          ApiError::forbidden("Only an admin may read another user's events"));
    }
    if (!admin) {
      where.add("user_id =", ctx.principal->user_id);
    } else if (user && !user->empty()) {
      where.add("user_id =", *user);
    }
    if (auto t = http::query_param(req.query, "event_type")) {
      if (!is_event_type(*t)) {
        problems.push_back(
            {"event_type", "Unknown event type format", "value_error.event_type", *t});
      } else {
        where.add("event_type =", *t);
      }
    }
    read_time_range(req, where, problems);
    const Page page = read_page(req, where, problems);
    if (!problems.empty()) {
      co_return http::Response::from_error(ApiError::validation("Invalid query", problems));
    }
    const std::string sql =
        "SELECT id, event_type, user_id, login_id, ip_address, user_agent, request_id, details, "
        "created_at FROM security_events" +
        where.sql() + newest_first(page);
    auto rows = co_await workers.run([&] { return auth.db().query(sql, where.params()); });
    if (!rows) co_return http::Response::from_error(std::move(rows).error());
    json::array items;
    const std::size_t n = std::min<std::size_t>(rows->size(), static_cast<std::size_t>(page.limit));
    for (std::size_t i = 0; i < n; ++i) {
      json::object o;
      for (const auto* col : {"id", "event_type", "user_id", "login_id", "ip_address", "user_agent",
                              "request_id", "details", "created_at"}) {
        o[col] = rows->null_at(i, col) ? json::value() : json::value(rows->text(i, col));
      }
      items.push_back(std::move(o));
    }
    json::object body;
    body["items"] = std::move(items);
    body["next_cursor"] = next_cursor(*rows, page);
    co_return http::Response::json(200, json::serialize(body));
  };
  return {std::move(r)};
}

}  // namespace evald::api
