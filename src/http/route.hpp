#pragma once
/// RouteSpec: everything the cross-cutting layers and the OpenAPI builder need about a route.

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "http/context.hpp"
#include "http/message.hpp"

namespace evald::http {

enum class Role { kAdmin, kSecretary, kEvaluator };
std::string_view to_string(Role r);

/// Which rate-limit rules apply (no substring matching on paths).
enum class RateCategory { kApi, kLogin, kUpload, kAdmin, kBulk, kExport, kExempt };
std::string_view to_string(RateCategory c);

struct ParamDoc {
  std::string name;
  std::string in = "query";  ///< "path" | "query" | "header"
  bool required = false;
  std::string description;
  boost::json::value schema;
};

struct BodyDoc {
  std::string content_type = "application/json";
  boost::json::value schema;
  boost::json::value example;
  bool required = true;  ///< false: the body may be left out
};

struct ResponseDoc {
  unsigned status = 200;
  std::string description;
  std::string content_type = "application/json";
  boost::json::value schema;
  boost::json::value example;
};

using Handler = std::function<boost::asio::awaitable<Response>(Request&, RequestContext&)>;

struct RouteSpec {
  std::string method;  ///< "GET"; HEAD is served by every GET route
  std::string path;    ///< template: "/auth/sessions/{session_id}"
  std::string summary;
  std::string description;
  std::string tag;
  std::vector<ParamDoc> params;
  std::optional<BodyDoc> request_body;
  std::vector<ResponseDoc> responses;
  /// Public routes need no sign-in. Otherwise any signed-in user when `roles` is empty.
  bool is_public = false;
  std::vector<Role> roles;
  RateCategory rate_category = RateCategory::kApi;
  /// Also answers `Authorization: Bearer $METRICS_TOKEN` (Prometheus), whatever `roles` says.
  bool metrics_token = false;
  /// Answers only clients inside ADMIN_ALLOWED_CIDRS when that is set (admin and monitoring).
  bool admin_network = false;
  /// Kept out of the OpenAPI document (test-only routes).
  bool hidden = false;
  Handler handler;
};

}  // namespace evald::http
