#pragma once
/// Route tables, one function per resource; the app collects them into the Router.

#include <vector>

#include "app/app_context.hpp"
#include "http/route.hpp"

namespace evald::api {

/// /ping, /health/ping, /health/live.
std::vector<http::RouteSpec> health_routes(AppContext& app);

/// Routes that exist only when ENVIRONMENT=test, for the functional suites (hidden from docs).
std::vector<http::RouteSpec> test_routes(AppContext& app);

/// /auth: login, logout, me, change-password, sessions, lockout.
std::vector<http::RouteSpec> auth_routes(AppContext& app);
/// /auth/security-events.
std::vector<http::RouteSpec> security_event_routes(AppContext& app);

/// Every route of the server, in registration order.
std::vector<http::RouteSpec> all_routes(AppContext& app);

}  // namespace evald::api
