#pragma once
/// Route tables, one function per resource; the app collects them into the Router.

#include <memory>
#include <string>
#include <vector>

#include "app/app_context.hpp"
#include "http/route.hpp"

namespace evald::api {

/// 200 (or `status`) with `v` serialized.
http::Response ok_json(const boost::json::value& v, unsigned status = 200);
/// A JSON schema (or example) written as text.
boost::json::value schema(std::string_view text);

/// /ping, /health/ping, /health/live.
std::vector<http::RouteSpec> health_routes(AppContext& app);

/// Routes that exist only when ENVIRONMENT=test, for the functional suites (hidden from docs).
std::vector<http::RouteSpec> test_routes(AppContext& app);

/// /auth: login, logout, me, change-password, sessions, lockout.
std::vector<http::RouteSpec> auth_routes(AppContext& app);
/// /auth/security-events.
std::vector<http::RouteSpec> security_event_routes(AppContext& app);

/// GET /metrics/rate-limiting and DELETE /admin/rate-limits/{type}/{identifier}.
std::vector<http::RouteSpec> ratelimit_routes(AppContext& app);

/// GET /admin/error-logs and /admin/error-stats.
std::vector<http::RouteSpec> error_log_routes(AppContext& app);

/// Backups from the API, /metrics/database, /status/comprehensive, /admin/shutdown.
std::vector<http::RouteSpec> admin_routes(AppContext& app);

/// GET /status (the live operations page, public HTML) and /status/assets/{name}.
std::vector<http::RouteSpec> status_page_routes(AppContext& app);
/// GET /status/data (admin): dependencies and the last hour of traffic, for the page.
std::vector<http::RouteSpec> status_routes(AppContext& app);

/// GET /health/metrics (Prometheus).
std::vector<http::RouteSpec> metrics_routes(AppContext& app);

/// The evaluation domain (docs/DOMAIN.md), one table per resource:
/// /api/users, /api/evaluators, /auth/secretary-signup, /api/admin/secretary-requests.
std::vector<http::RouteSpec> user_routes(AppContext& app);
/// /api/projects.
std::vector<http::RouteSpec> project_routes(AppContext& app);
/// /api/projects/{id}/companies, /api/companies (batch import included).
std::vector<http::RouteSpec> company_routes(AppContext& app);
/// /api/templates.
std::vector<http::RouteSpec> template_routes(AppContext& app);
/// /api/assignments and /api/evaluations.
std::vector<http::RouteSpec> evaluation_routes(AppContext& app);
/// /api/projects/{id}/results and /export.
std::vector<http::RouteSpec> result_routes(AppContext& app);
/// /api/companies/{id}/files and /api/files.
std::vector<http::RouteSpec> file_routes(AppContext& app);

/// /docs/openapi.json, /docs/version, /docs/versions, /docs/changelog. `all` is filled with every
/// route of the server (these included) once the table is complete.
std::vector<http::RouteSpec> docs_routes(AppContext& app,
                                         std::shared_ptr<const std::vector<http::RouteSpec>> all);
/// The OpenAPI document of `routes` as served (and printed by `evald openapi`).
std::string openapi_text(AppContext& app, const std::vector<http::RouteSpec>& routes);
/// share/api-versions.json: {current, versions: [...]}.
const boost::json::object& api_versions();

/// Every route of the server, in registration order.
std::vector<http::RouteSpec> all_routes(AppContext& app);

}  // namespace evald::api
