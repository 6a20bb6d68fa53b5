// /docs: the OpenAPI document built from the route table, the version history and changelog
// (share/api-versions.json, compiled in), and the build's version.

#include <boost/json.hpp>
#include <mutex>

#include "api/docs_ui.hpp"
#include "api/openapi.hpp"
#include "api/routes.hpp"
#include "core/time_format.hpp"
#include "http/query.hpp"

namespace evald {
extern const char* const kApiVersionsText;
}

namespace evald::api {
namespace {

namespace json = boost::json;
namespace asio = boost::asio;
using http::Request;
using http::RequestContext;
using http::Response;

const char* const kHistorySchema =
    R"({"type":"object","required":["current","versions"],"properties":{
  "current":{"type":"string"},"versions":{"type":"array","items":{"type":"object",
  "required":["version","release_date","status","changelog","breaking_changes"],
  "properties":{"version":{"type":"string"},"release_date":{"type":["string","null"]},
  "status":{"type":"string"},"changelog":{"type":"array","items":{"type":"string"}},
  "breaking_changes":{"type":"array","items":{"type":"string"}}}}}}})";

const char* const kHistoryExample = R"({"current":"1.1.0","versions":[{"version":"1.1.0",
  "release_date":"2024-02-15","status":"stable","changelog":["TOTP multi-factor authentication"],
  "breaking_changes":["Tokens must be sent with the Bearer prefix"]}]})";

json::value rule_json(const ratelimit::Rule& r) {
  return json::object{
      {"name", r.name},
      {"scope", ratelimit::to_string(r.scope)},
      {"limit", r.limit},
      {"window_seconds", std::chrono::duration_cast<std::chrono::seconds>(r.window).count()},
      {"burst", r.burst},
      {"penalty_seconds", r.penalty.count()},
      {"shadow", r.shadow}};
}

// Markdown, for people and for release notes.
std::string changelog_markdown(const json::object& history) {
  std::string md = "# Changelog\n";
  for (const auto& v : history.at("versions").as_array()) {
    const auto& o = v.as_object();
    md += "\n## " + std::string(o.at("version").as_string());
    md += o.at("release_date").is_string()
              ? " (" + std::string(o.at("release_date").as_string()) + ")"
              : std::string(" (unreleased)");
    md += " — " + std::string(o.at("status").as_string()) + "\n\n";
    for (const auto& c : o.at("changelog").as_array()) {
      md += "- " + std::string(c.as_string()) + "\n";
    }
    const auto& breaking = o.at("breaking_changes").as_array();
    if (!breaking.empty()) {
      md += "\nBreaking changes:\n\n";
      for (const auto& b : breaking) md += "- " + std::string(b.as_string()) + "\n";
    }
  }
  return md;
}

}  // namespace

const boost::json::object& api_versions() {
  static const json::object history = json::parse(kApiVersionsText).as_object();
  return history;
}

boost::json::value rate_policy(const ratelimit::RuleSet& rules, http::RateCategory category) {
  const auto cat = http::to_string(category);
  json::array list;
  if (const auto* r = rules.per_ip(cat)) list.push_back(rule_json(*r));
  for (const char* role : {"default", "admin", "secretary", "evaluator"}) {
    const auto* r = rules.per_user(role);
    if (!r) continue;
    const bool seen = std::any_of(list.begin(), list.end(), [&](const json::value& v) {
      return v.as_object().at("name").as_string() == r->name;
    });
    if (!seen) list.push_back(rule_json(*r));
  }
  if (const auto* r = rules.per_endpoint(cat)) list.push_back(rule_json(*r));
  if (const auto* r = rules.global()) list.push_back(rule_json(*r));
  return json::object{{"category", cat}, {"rules", std::move(list)}};
}

std::string openapi_text(AppContext& app, const std::vector<http::RouteSpec>& routes) {
  OpenApiInfo info;
  info.version = app.settings.api_version;
  info.versions = api_versions().at("versions");
  auto rules = app.limiter->rules();
  info.rate_policy = [&](http::RateCategory c) { return rate_policy(*rules, c); };
  return json::serialize(build_openapi(routes, info));
}

std::vector<http::RouteSpec> docs_routes(AppContext& app,
                                         std::shared_ptr<const std::vector<http::RouteSpec>> all) {
  std::vector<http::RouteSpec> routes;
  auto route = [](std::string path, std::string summary, std::string description) {
    http::RouteSpec r;
    r.method = "GET";
    r.path = std::move(path);
    r.summary = std::move(summary);
    r.description = std::move(description);
    r.tag = "Documentation";
    r.is_public = true;
    return r;
  };

  // Built at the first request and again when the rate-limit rules change (SIGHUP), so the
  // policies it states are the ones in force.
  struct Cache {
    std::mutex mu;
    const ratelimit::RuleSet* rules = nullptr;
    std::shared_ptr<const std::string> text;
  };
  auto cache = std::make_shared<Cache>();
  auto openapi = route("/docs/openapi.json", "The OpenAPI document",
                       "OpenAPI 3.1, generated from the routes this server runs.");
  openapi.responses.push_back(
      {200, "The document", "application/json",
       schema(R"({"type":"object","required":["openapi","info","paths","components"],
        "properties":{"openapi":{"const":"3.1.0"},"info":{"type":"object"},
        "paths":{"type":"object"},"components":{"type":"object"}}})"),
       schema(R"({"openapi":"3.1.0","info":{"title":"Online Evaluation System API",
        "version":"1.1.0"},"paths":{},"components":{}})")});
  openapi.handler = [&app, all, cache](Request&, RequestContext&) -> asio::awaitable<Response> {
    std::shared_ptr<const std::string> text;
    {
      const auto rules = app.limiter->rules();
      std::lock_guard lock(cache->mu);
      if (!cache->text || cache->rules != rules.get()) {
        cache->text = std::make_shared<const std::string>(openapi_text(app, *all));
        cache->rules = rules.get();
      }
      text = cache->text;
    }
    auto res = Response::json(200, *text);
    res.headers.set("Cache-Control", "no-cache");
    co_return res;
  };
  routes.push_back(std::move(openapi));

  auto version = route("/docs/version", "This build's version",
                       "API version, build number, git commit, environment and server time.");
  version.responses.push_back(
      {200, "The version", "application/json",
       schema(R"({"type":"object","required":["version","build","commit","environment","timestamp"],
        "properties":{"version":{"type":"string"},"build":{"type":"string"},
        "commit":{"type":"string"},"environment":{"type":"string"},
        "timestamp":{"type":"string","format":"date-time"}}})"),
       schema(R"({"version":"1.1.0","build":"0.3.0","commit":"57940c9a1b2c",
        "environment":"production","timestamp":"2026-11-28T06:00:00.000Z"})")});
  version.handler = [&app](Request&, RequestContext&) -> asio::awaitable<Response> {
    json::object o{{"version", app.settings.api_version},
                   {"build", build_info().version},
                   {"commit", build_info().commit},
                   {"environment", to_string(app.settings.environment)},
                   {"timestamp", format_iso8601(app.clock.now(), true)}};
    co_return ok_json(o);
  };
  routes.push_back(std::move(version));

  auto versions = route("/docs/versions", "API version history",
                        "Every version with its release date, status, changes and breaking "
                        "changes; `current` is this server's API_VERSION.");
  versions.responses.push_back(
      {200, "The history", "application/json", schema(kHistorySchema), schema(kHistoryExample)});
  versions.handler = [&app](Request&, RequestContext&) -> asio::awaitable<Response> {
    json::object o{{"current", app.settings.api_version},
                   {"versions", api_versions().at("versions")}};
    co_return ok_json(o);
  };
  routes.push_back(std::move(versions));

  auto changelog = route("/docs/changelog", "Changelog",
                         "The version history as Markdown (`text/markdown`), or as JSON with "
                         "`?format=json`.");
  changelog.params.push_back({"format", "query", false, "markdown (default) or json",
                              schema(R"({"type":"string","enum":["markdown","json"]})")});
  changelog.responses.push_back(
      {200, "The changelog", "text/markdown", schema(R"({"type":"string"})"),
       json::value("## 1.1.0 (2024-02-15)\n\n- TOTP multi-factor ...\n")});
  changelog.responses.push_back(
      {200, "", "application/json", schema(kHistorySchema), schema(kHistoryExample)});
  changelog.handler = [](Request& req, RequestContext&) -> asio::awaitable<Response> {
    const auto format = http::query_param(req.query, "format").value_or("markdown");
    if (format == "json") co_return ok_json(api_versions());
    if (format != "markdown") {
      co_return Response::from_error(ApiError::validation(
          "Invalid query", {{"format", "Must be markdown or json", "value_error.enum", format}}));
    }
    Response res;
    res.status = 200;
    res.headers.set("Content-Type", "text/markdown; charset=utf-8");
    res.body = changelog_markdown(api_versions());
    co_return res;
  };
  routes.push_back(std::move(changelog));
  auto pages = docs_ui_routes(app);
  std::move(pages.begin(), pages.end(), std::back_inserter(routes));
  return routes;
}

}  // namespace evald::api
