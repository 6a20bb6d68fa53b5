#pragma once
/// The OpenAPI 3.1 document, built from the same RouteSpecs the router serves, so the two cannot
/// drift: every route (hidden test routes aside), its parameters, bodies, responses, the standard
/// errors it can give, its security and its rate-limit policy.

#include <boost/json/object.hpp>
#include <functional>
#include <string>
#include <vector>

#include "http/route.hpp"

namespace evald::api {

struct OpenApiInfo {
  std::string version;           ///< API_VERSION
  std::string server_url = "/";  ///< relative: the document works behind any host
  /// The version history (share/api-versions.json), as `x-api-versions`.
  boost::json::value versions;
  /// The rules a rate category is subject to: {"category", "rules": [{name, scope, limit,
  /// window_seconds, burst}]}, as `x-ratelimit-policy`.
  std::function<boost::json::value(http::RateCategory)> rate_policy;
};

boost::json::object build_openapi(const std::vector<http::RouteSpec>& routes,
                                  const OpenApiInfo& info);

/// "GET /api/users/{id}" -> "getApiUsersById": stable, unique per operation.
std::string operation_id(std::string_view method, std::string_view path);

/// The standard error body of API.md as a JSON Schema.
boost::json::value error_body_schema();

}  // namespace evald::api
