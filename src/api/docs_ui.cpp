#include "api/docs_ui.hpp"

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>

#include "api/routes.hpp"
#include "api/static_file.hpp"
#include "log/log.hpp"

namespace evald::api {
namespace {

namespace asio = boost::asio;
using http::Request;
using http::RequestContext;
using http::Response;

// Same origin only. Swagger UI and ReDoc inject style attributes (hence 'unsafe-inline' for
// styles, never for scripts); ReDoc searches in a worker it starts from a blob.
constexpr const char* kCsp =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

constexpr const char* kSwaggerPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Online Evaluation System API</title>
<link rel="stylesheet" href="assets/swagger-ui.css">
<link rel="icon" type="image/png" href="assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="assets/swagger-ui-bundle.js"></script>
<script src="assets/swagger-ui-standalone-preset.js"></script>
<script src="assets/swagger-init.js"></script>
</body>
</html>
)html";

// An inline script would need 'unsafe-inline': the start-up code is an asset of its own.
constexpr const char* kSwaggerInit = R"js(window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    filter: true,
    tryItOutEnabled: true,
    persistAuthorization: true,
    displayRequestDuration: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout"
  });
});
)js";

constexpr const char* kRedocPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Online Evaluation System API — ReDoc</title>
<link rel="icon" type="image/png" href="assets/favicon-32x32.png">
</head>
<body>
<redoc spec-url="openapi.json" hide-download-button="false"></redoc>
<script src="assets/redoc.standalone.js"></script>
</body>
</html>
)html";

// The files the pages use, by the name they are served under.
const std::vector<std::tuple<const char*, const char*, const char*>>& asset_files() {
  static const std::vector<std::tuple<const char*, const char*, const char*>> files{
      {"swagger-ui.css", "swagger-ui-dist/swagger-ui.css", "text/css; charset=utf-8"},
      {"swagger-ui-bundle.js", "swagger-ui-dist/swagger-ui-bundle.js",
       "text/javascript; charset=utf-8"},
      {"swagger-ui-standalone-preset.js", "swagger-ui-dist/swagger-ui-standalone-preset.js",
       "text/javascript; charset=utf-8"},
      {"favicon-32x32.png", "swagger-ui-dist/favicon-32x32.png", "image/png"},
      {"redoc.standalone.js", "redoc/bundles/redoc.standalone.js",
       "text/javascript; charset=utf-8"},
  };
  return files;
}

std::optional<std::string> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return std::move(s).str();
}

// ReDoc's menu shows Redocly's logo from their CDN, which the policy refuses (a violation in the
// console on every load): the bundle is served with a data URL there instead, which does not
// decode, and ReDoc then leaves the logo out.
void drop_cdn_logo(std::string& bundle) {
  constexpr std::string_view kCdnLogo = "https://cdn.redoc.ly/redoc/logo-mini.svg";
  constexpr std::string_view kNoImage = "data:,";
  for (auto pos = bundle.find(kCdnLogo); pos != std::string::npos;
       pos = bundle.find(kCdnLogo, pos + kNoImage.size())) {
    bundle.replace(pos, kCdnLogo.size(), kNoImage);
  }
}

// Every asset, or nullptr with the reason when one is missing (the pages then answer 503).
std::shared_ptr<const std::map<std::string, StaticFile>> load_assets(const std::string& dir,
                                                                     std::string& missing) {
  auto assets = std::make_shared<std::map<std::string, StaticFile>>();
  for (const auto& [name, rel, type] : asset_files()) {
    auto body = read_file(std::filesystem::path(dir) / rel);
    if (!body) {
      missing = (std::filesystem::path(dir) / rel).string();
      return nullptr;
    }
    if (std::string_view(name) == "redoc.standalone.js") drop_cdn_logo(*body);
    (*assets)[name] = StaticFile::make(type, std::move(*body));
  }
  (*assets)["swagger-init.js"] = StaticFile::make("text/javascript; charset=utf-8", kSwaggerInit);
  return assets;
}

Response html(const char* page) {
  Response res;
  res.status = 200;
  res.headers.set("Content-Type", "text/html; charset=utf-8");
  res.headers.set("Content-Security-Policy", kCsp);
  res.headers.set("Cache-Control", "no-cache");
  res.body = page;
  return res;
}

http::RouteSpec page_route(std::string path, std::string summary) {
  http::RouteSpec r;
  r.method = "GET";
  r.path = std::move(path);
  r.summary = std::move(summary);
  r.tag = "Documentation";
  r.is_public = true;
  // Static and served from memory; a page load takes seven requests, which the per-IP API
  // rule would soon refuse to a developer reloading.
  r.rate_category = http::RateCategory::kExempt;
  return r;
}

// A relative DOCS_ASSETS_DIR is looked up from the working directory, then from the repository
// the binary was built in (build/evald -> web/node_modules), so both `make run` and a server
// started elsewhere find the pages.
std::string resolve_assets_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path p(dir);
  if (p.is_absolute() || fs::exists(p)) return dir;
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto beside = exe.parent_path().parent_path() / p;
    if (fs::exists(beside)) return beside.string();
  }
  return dir;
}

}  // namespace

std::vector<http::RouteSpec> docs_ui_routes(AppContext& app) {
  std::string missing;
  auto assets = load_assets(resolve_assets_dir(app.settings.docs_assets_dir), missing);
  if (!assets) {
    log::get("app")->warn(
        "{}", log::Line("the documentation UI is not installed; /docs/ and /docs/redoc answer "
                        "503 (run `make web`, or set DOCS_ASSETS_DIR)")
                  .kv("missing", missing));
  }
  auto unavailable = [] {
    ApiError e;
    e.code = ErrorCode::kExternalServiceError;
    e.message = "The documentation UI is not installed on this server; /docs/openapi.json is";
    return Response::from_error(std::move(e));
  };
  std::vector<http::RouteSpec> routes;

  auto swagger = page_route("/docs/", "Swagger UI");
  swagger.description =
      "Interactive documentation: every operation, try it out, and Authorize with a login "
      "(the OAuth2 password flow against /auth/login).";
  swagger.responses.push_back({200, "The page", "text/html", schema(R"({"type":"string"})"), {}});
  swagger.responses.push_back({503,
                               "The UI is not installed on this server (DOCS_ASSETS_DIR)",
                               "application/json",
                               {},
                               {}});
  swagger.handler = [assets, unavailable](Request&, RequestContext&) -> asio::awaitable<Response> {
    if (!assets) co_return unavailable();
    co_return html(kSwaggerPage);
  };
  routes.push_back(std::move(swagger));

  auto bare = page_route("/docs", "Swagger UI (redirect)");
  bare.hidden = true;
  bare.handler = [](Request&, RequestContext&) -> asio::awaitable<Response> {
    Response res;
    res.status = 301;
    res.headers.set("Location", "/docs/");
    co_return res;
  };
  routes.push_back(std::move(bare));

  auto redoc = page_route("/docs/redoc", "ReDoc");
  redoc.description = "The same document as a three-panel reference.";
  redoc.responses.push_back({200, "The page", "text/html", schema(R"({"type":"string"})"), {}});
  redoc.responses.push_back({503,
                             "The UI is not installed on this server (DOCS_ASSETS_DIR)",
                             "application/json",
                             {},
                             {}});
  redoc.handler = [assets, unavailable](Request&, RequestContext&) -> asio::awaitable<Response> {
    if (!assets) co_return unavailable();
    co_return html(kRedocPage);
  };
  routes.push_back(std::move(redoc));

  auto asset = page_route("/docs/assets/{name}", "A script, style or icon of the pages");
  asset.params.push_back(
      {"name", "path", true, "the asset's file name", schema(R"({"type":"string"})")});
  // One response, three media types: scripts, the stylesheet and the icon.
  asset.responses.push_back({200,
                             "The file (cacheable for a day; ETag)",
                             "text/javascript",
                             schema(R"({"type":"string"})"),
                             {}});
  asset.responses.push_back({200, "", "text/css", schema(R"({"type":"string"})"), {}});
  asset.responses.push_back(
      {200, "", "image/png", schema(R"({"type":"string","format":"binary"})"), {}});
  asset.responses.push_back({304, "Not modified", "text/plain", {}, {}});
  asset.responses.push_back({404, "No such asset", "application/json", {}, {}});
  asset.responses.push_back({503,
                             "The UI is not installed on this server (DOCS_ASSETS_DIR)",
                             "application/json",
                             {},
                             {}});
  asset.handler = [assets, unavailable](Request& req,
                                        RequestContext& ctx) -> asio::awaitable<Response> {
    if (!assets) co_return unavailable();
    auto it = assets->find(std::string(ctx.param("name")));
    if (it == assets->end()) co_return Response::from_error(ApiError::not_found("No such asset"));
    co_return serve_static(it->second, req, "public, max-age=86400");
  };
  routes.push_back(std::move(asset));
  return routes;
}

}  // namespace evald::api
