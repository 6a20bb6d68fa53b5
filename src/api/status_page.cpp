// The live operations page's shell: GET /status and GET /status/assets/{name}, compiled in from
// share/status/. Public (a browser's navigation cannot carry a bearer token, and the shell holds
// no data: the page signs in and reads /status/data itself), never rate limited, same origin
// only under a policy that needs no inline script or style.

#include <map>

#include "api/routes.hpp"
#include "api/static_file.hpp"

namespace evald::api {

// Generated from share/status/ by cmake/embed_text.cmake.
extern const char* const kStatus_index_html;
extern const char* const kStatus_status_css;
extern const char* const kStatus_status_js;

namespace {

namespace asio = boost::asio;
using http::Request;
using http::RequestContext;
using http::Response;

constexpr const char* kCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'";

// Revalidated on every load (no-cache): a new evald's page never runs with an old script, and
// an unchanged file costs a 304.
Response serve(const StaticFile& f, const Request& req, bool page) {
  Response res = serve_static(f, req, "no-cache");
  if (page) res.headers.set("Content-Security-Policy", kCsp);
  return res;
}

http::RouteSpec public_route(std::string path, std::string summary) {
  http::RouteSpec r;
  r.method = "GET";
  r.path = std::move(path);
  r.summary = std::move(summary);
  r.tag = "Monitoring";
  r.is_public = true;
  r.admin_network = true;
  // Served from memory; a page load is four requests, and reloading must never be refused.
  r.rate_category = http::RateCategory::kExempt;
  return r;
}

}  // namespace

std::vector<http::RouteSpec> status_page_routes(AppContext&) {
  auto page = std::make_shared<const StaticFile>(
      StaticFile::make("text/html; charset=utf-8", kStatus_index_html));
  auto assets =
      std::make_shared<const std::map<std::string, StaticFile>>(std::map<std::string, StaticFile>{
          {"status.css", StaticFile::make("text/css; charset=utf-8", kStatus_status_css)},
          {"status.js", StaticFile::make("text/javascript; charset=utf-8", kStatus_status_js)}});
  std::vector<http::RouteSpec> routes;

  auto index = public_route("/status", "The live operations page");
  index.description =
      "An HTML page for operators: it signs in with an admin's login (POST /auth/login; the "
      "token stays in the tab's sessionStorage), then shows the state of the database, Redis, "
      "the mail outbox and the disk, and charts of the last hour (request rate, p50 and p99 "
      "latency, errors by category, rate-limit refusals, failed logins) from GET /status/data, "
      "refreshed every 5 seconds. The page itself is public and holds no data.";
  index.responses.push_back({200,
                             "The page (ETag; revalidated on each load)",
                             "text/html",
                             schema(R"({"type":"string"})"),
                             {}});
  index.responses.push_back({304, "Not modified", "text/plain", {}, {}});
  index.handler = [page](Request& req, RequestContext&) -> asio::awaitable<Response> {
    co_return serve(*page, req, true);
  };
  routes.push_back(std::move(index));

  auto asset = public_route("/status/assets/{name}", "A style sheet or script of the status page");
  asset.params.push_back({"name", "path", true, "the asset's file name: status.css or status.js",
                          schema(R"({"type":"string","enum":["status.css","status.js"]})")});
  asset.responses.push_back({200,
                             "The file (ETag; revalidated on each load)",
                             "text/javascript",
                             schema(R"({"type":"string"})"),
                             {}});
  asset.responses.push_back({200, "", "text/css", schema(R"({"type":"string"})"), {}});
  asset.responses.push_back({304, "Not modified", "text/plain", {}, {}});
  asset.responses.push_back({404, "No such asset", "application/json", {}, {}});
  asset.handler = [assets](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
    auto it = assets->find(std::string(ctx.param("name")));
    if (it == assets->end()) co_return Response::from_error(ApiError::not_found("No such asset"));
    co_return serve(it->second, req, false);
  };
  routes.push_back(std::move(asset));
  return routes;
}

}  // namespace evald::api
