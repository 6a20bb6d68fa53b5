#pragma once
/// The documentation pages: Swagger UI at /docs/, ReDoc at /docs/redoc, and their scripts and
/// styles under /docs/assets/, all served by evald itself from memory (read once at start from
/// DOCS_ASSETS_DIR, where `npm ci` in web/ put the versions web/package-lock.json pins). No CDN:
/// the pages work offline and behind strict firewalls, under a same-origin Content-Security-Policy.

#include <vector>

#include "app/app_context.hpp"
#include "http/route.hpp"

namespace evald::api {

std::vector<http::RouteSpec> docs_ui_routes(AppContext& app);

}  // namespace evald::api
