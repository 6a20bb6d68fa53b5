#include "api/openapi.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <set>

#include "core/error.hpp"

namespace evald::api {
namespace {

namespace json = boost::json;

const char* const kDescription =
    R"md(The backend of the Online Evaluation System: public agencies run support
programmes for small companies; secretaries set up projects, companies and evaluation templates,
evaluators score the companies, admins run the system.

## Authentication

Sign in with `POST /auth/login` (JSON `{login_id, password, mfa_code?}`, or the OAuth2 password
form that the **Authorize** button uses) and send the `access_token` as
`Authorization: Bearer <token>`. Tokens are tied to a server-side session: `POST /auth/logout`,
a password change or a revoked session ends them at once. After repeated failures an account is
locked for a while (423).

## Errors

Every 4xx and 5xx answer has the same JSON body: `error`, `error_code`, `message`, `details`
(field-level problems: `field`, `message`, `code`), `timestamp`, `request_id` (also in the
`X-Request-ID` header; quote it when you report a problem), `severity` and `category`.
Validation problems are all reported at once.

## Rate limits

Requests are limited per client address, per user, per endpoint and globally, by token buckets
with bursts. Limited answers carry `X-RateLimit-Limit`, `X-RateLimit-Remaining`,
`X-RateLimit-Reset` and `X-RateLimit-Window` (seconds) for the rule closest to its limit, and the
IETF draft's `RateLimit-Policy` and `RateLimit`; a refusal is 429 with `Retry-After`. Repeated
violations earn a growing penalty. Each operation lists its rules in `x-ratelimit-policy`.)md";

std::string_view reason(unsigned status) {
  switch (status) {
    case 400:
      return "Invalid request: malformed body, wrong types, missing or unknown fields";
    case 401:
      return "Not signed in, or the token is invalid, expired or revoked";
    case 403:
      return "Signed in without the role this operation needs";
    case 404:
      return "No such resource, or one the caller may not see";
    case 409:
      return "Conflicts with the current state (a duplicate, a stale version)";
    case 413:
      return "The body is larger than the server accepts";
    case 415:
      return "Unsupported media type";
    case 422:
      return "Well formed, but the current state does not allow it";
    case 423:
      return "The account is locked after repeated failures";
    case 429:
      return "Rate limited: retry after the Retry-After seconds";
    case 500:
      return "Unexpected server error (quote the request_id)";
    case 503:
      return "A dependency (the database, mail) is unavailable; retry shortly";
    default:
      return "Error";
  }
}

std::string_view error_code_for(unsigned status) {
  switch (status) {
    case 400:
      return "VALIDATION_ERROR";
    case 401:
      return "AUTH_FAILED";
    case 403:
      return "INSUFFICIENT_PERMISSIONS";
    case 404:
      return "NOT_FOUND";
    case 409:
      return "CONFLICT";
    case 413:
      return "PAYLOAD_TOO_LARGE";
    case 422:
      return "BUSINESS_LOGIC_ERROR";
    case 423:
      return "ACCOUNT_LOCKED";
    case 429:
      return "RATE_LIMIT_EXCEEDED";
    case 503:
      return "DATABASE_ERROR";
    default:
      return "INTERNAL_SERVER_ERROR";
  }
}

json::object header(std::string_view description, std::string_view type = "integer") {
  return json::object{{"description", description}, {"schema", json::object{{"type", type}}}};
}

json::object rate_limit_headers() {
  return json::object{
      {"X-RateLimit-Limit", header("Burst of the rule closest to its limit")},
      {"X-RateLimit-Remaining", header("Requests left in that rule's bucket")},
      {"X-RateLimit-Reset", header("Seconds until that bucket is full again")},
      {"X-RateLimit-Window", header("That rule's window, in seconds")},
      {"RateLimit-Policy", header("IETF draft: limit;w=window;burst=..;policy=\"rule\"", "string")},
      {"RateLimit", header("IETF draft: limit, remaining, reset", "string")},
  };
}

json::object error_response(unsigned status, std::string_view description, bool limited) {
  const auto code = error_code_for(status);
  const ErrorInfo* info = &error_info(ErrorCode::kInternalServerError);
  for (auto c : all_error_codes()) {
    if (error_info(c).code == code) info = &error_info(c);
  }
  json::object example{{"error", true},
                       {"error_code", code},
                       {"message", description},
                       {"details", json::array{}},
                       {"timestamp", "2026-01-15T10:30:00.000Z"},
                       {"request_id", "5f0c6e1d9a7b4c3e8d2f1a0b9c8d7e6f"},
                       {"severity", info->severity},
                       {"category", info->category}};
  json::object headers{{"X-Request-ID", header("The request id, also in the body", "string")}};
  if (status == 429) headers["Retry-After"] = header("Seconds to wait before retrying");
  if (status == 401) headers["WWW-Authenticate"] = header("Bearer", "string");
  if (limited) {
    for (auto& [k, v] : rate_limit_headers()) headers[k] = v;
  }
  return json::object{
      {"description", description},
      {"headers", std::move(headers)},
      {"content",
       json::object{{"application/json",
                     json::object{{"schema", json::object{{"$ref", "#/components/schemas/Error"}}},
                                  {"example", std::move(example)}}}}}};
}

// Path parameters named in the template, in order.
std::vector<std::string> path_params(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while ((i = path.find('{', i)) != std::string_view::npos) {
    const auto j = path.find('}', i);
    if (j == std::string_view::npos) break;
    out.emplace_back(path.substr(i + 1, j - i - 1));
    i = j + 1;
  }
  return out;
}

bool has_body(const http::RouteSpec& r) {
  return r.request_body.has_value() || r.method == "POST" || r.method == "PUT" ||
         r.method == "PATCH";
}

json::object operation(const http::RouteSpec& r, const OpenApiInfo& info) {
  json::object op;
  op["operationId"] = operation_id(r.method, r.path);
  op["summary"] = r.summary;
  const bool limited = r.rate_category != http::RateCategory::kExempt;
  std::string description = r.description;
  if (!r.roles.empty()) {
    std::string roles;
    for (auto role : r.roles) roles += (roles.empty() ? "" : ", ") + std::string(to_string(role));
    description += (description.empty() ? "" : "\n\n") + std::string("Roles: ") + roles + ".";
  }
  if (limited) {
    description += (description.empty() ? "" : "\n\n") + std::string("Rate limited (category `") +
                   std::string(http::to_string(r.rate_category)) +
                   "`): the rules are in `x-ratelimit-policy`; a refusal is 429 with "
                   "`Retry-After`.";
  } else {
    description += (description.empty() ? "" : "\n\n") + std::string("Never rate limited.");
  }
  op["description"] = description;
  op["tags"] = json::array{json::value(r.tag.empty() ? "General" : r.tag)};

  // Parameters: the declared ones, and every path parameter of the template.
  json::array params;
  std::set<std::string> declared;
  for (const auto& p : r.params) {
    json::object o{{"name", p.name}, {"in", p.in}, {"required", p.in == "path" || p.required}};
    if (!p.description.empty()) o["description"] = p.description;
    o["schema"] = p.schema.is_null() ? json::value(json::object{{"type", "string"}}) : p.schema;
    params.push_back(std::move(o));
    declared.insert(p.in + ":" + p.name);
  }
  for (const auto& name : path_params(r.path)) {
    if (declared.count("path:" + name)) continue;
    params.push_back(json::object{{"name", name},
                                  {"in", "path"},
                                  {"required", true},
                                  {"schema", json::object{{"type", "string"}}}});
  }
  if (!params.empty()) op["parameters"] = std::move(params);

  if (r.request_body) {
    json::object media;
    media["schema"] =
        r.request_body->schema.is_null() ? json::value(json::object{}) : r.request_body->schema;
    if (!r.request_body->example.is_null()) media["example"] = r.request_body->example;
    op["requestBody"] =
        json::object{{"required", r.request_body->required},
                     {"content", json::object{{r.request_body->content_type, std::move(media)}}}};
  }

  json::object responses;
  std::set<unsigned> given;
  for (const auto& d : r.responses) {
    const std::string code = std::to_string(d.status);
    given.insert(d.status);
    // An error answer is the shared Error body, unless the route documents another (the health
    // probes answer 503 with their own report).
    if (d.status >= 400 && d.schema.is_null()) {
      responses[code] = error_response(
          d.status, d.description.empty() ? reason(d.status) : d.description, limited);
      continue;
    }
    if (auto* same = responses.if_contains(code); same && d.status != 204) {
      // A second content type for the same status (CSV or XLSX): one response, both media.
      json::object media;
      if (!d.schema.is_null()) media["schema"] = d.schema;
      if (!d.example.is_null()) media["example"] = d.example;
      auto& existing = same->as_object();
      if (!existing.contains("content")) existing["content"] = json::object{};
      existing["content"].as_object()[d.content_type] = std::move(media);
      continue;
    }
    json::object resp{{"description", d.description.empty() ? "Success" : d.description}};
    json::object headers{{"X-Request-ID", header("The request id", "string")}};
    if (limited) {
      for (auto& [k, v] : rate_limit_headers()) headers[k] = v;
    }
    resp["headers"] = std::move(headers);
    if (d.status != 204 && (!d.schema.is_null() || !d.example.is_null())) {
      json::object media;
      if (!d.schema.is_null()) media["schema"] = d.schema;
      if (!d.example.is_null()) media["example"] = d.example;
      resp["content"] = json::object{{d.content_type, std::move(media)}};
    }
    responses[code] = std::move(resp);
  }
  if (std::none_of(given.begin(), given.end(), [](unsigned s) { return s < 400; })) {
    responses["200"] = json::object{{"description", "Success"}};
  }
  // The standard errors this route can give, from what it is.
  std::vector<unsigned> implied;
  if (!r.params.empty() || has_body(r)) implied.push_back(400);
  if (!r.is_public) implied.push_back(401);
  if (!r.roles.empty() || r.admin_network) implied.push_back(403);
  if (!path_params(r.path).empty()) implied.push_back(404);
  if (has_body(r)) implied.push_back(413);
  if (limited) implied.push_back(429);
  implied.push_back(500);
  // Signing in is checked against the database (sessions): without it, 503 DATABASE_ERROR.
  if (!r.is_public) implied.push_back(503);
  for (auto s : implied) {
    if (!given.count(s)) responses[std::to_string(s)] = error_response(s, reason(s), limited);
  }
  op["responses"] = std::move(responses);

  if (r.is_public) {
    op["security"] = json::array{};
  } else {
    op["security"] = json::array{json::object{{"bearerAuth", json::array{}}},
                                 json::object{{"oauth2", json::array{}}}};
  }
  if (!r.roles.empty()) {
    json::array roles;
    for (auto role : r.roles) roles.push_back(json::value(to_string(role)));
    op["x-required-roles"] = std::move(roles);
  }
  if (limited && info.rate_policy) op["x-ratelimit-policy"] = info.rate_policy(r.rate_category);
  return op;
}

}  // namespace

std::string operation_id(std::string_view method, std::string_view path) {
  std::string id;
  for (char c : method) id += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  bool upper = true;
  bool in_param = false;
  for (char c : path) {
    if (c == '{') {
      id += "By";
      in_param = true;
      upper = true;
      continue;
    }
    if (c == '}') {
      in_param = false;
      upper = true;
      continue;
    }
    if (!std::isalnum(static_cast<unsigned char>(c))) {
      upper = true;
      continue;
    }
    id += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  (void)in_param;
  if (path == "/") id += "Root";
  return id;
}

json::value error_body_schema() {
  json::array codes;
  for (auto c : all_error_codes()) codes.push_back(json::value(error_info(c).code));
  return json::object{
      {"type", "object"},
      {"required", json::array{"error", "error_code", "message", "details", "timestamp",
                               "request_id", "severity", "category"}},
      {"properties",
       json::object{
           {"error", json::object{{"type", "boolean"}, {"const", true}}},
           {"error_code", json::object{{"type", "string"}, {"enum", std::move(codes)}}},
           {"message", json::object{{"type", "string"}}},
           {"details",
            json::object{
                {"type", "array"},
                {"items",
                 json::object{
                     {"type", "object"},
                     {"required", json::array{"field", "message", "code"}},
                     {"properties", json::object{{"field", json::object{{"type", "string"}}},
                                                 {"message", json::object{{"type", "string"}}},
                                                 {"code", json::object{{"type", "string"}}},
                                                 {"value", json::object{{"type", "string"}}}}}}}}},
           {"timestamp", json::object{{"type", "string"}, {"format", "date-time"}}},
           {"request_id", json::object{{"type", "string"}}},
           {"severity", json::object{{"type", "string"},
                                     {"enum", json::array{"low", "medium", "high", "critical"}}}},
           {"category",
            json::object{{"type", "string"},
                         {"enum", json::array{"validation", "authentication", "authorization",
                                              "business_logic", "security", "database",
                                              "external_service", "system"}}}},
           {"support_reference", json::object{{"type", "string"}}}}}};
}

json::object build_openapi(const std::vector<http::RouteSpec>& routes, const OpenApiInfo& info) {
  json::object doc;
  doc["openapi"] = "3.1.0";
  doc["info"] = json::object{
      {"title", "Online Evaluation System API"},
      {"version", info.version},
      {"description", kDescription},
      {"contact",
       json::object{{"name", "evald maintainers"}, {"email", "noreply@onlineevaluation.com"}}},
      {"license", json::object{{"name", "Proprietary"}, {"identifier", "LicenseRef-Proprietary"}}}};
  doc["servers"] =
      json::array{json::object{{"url", info.server_url}, {"description", "This server"}}};
  if (!info.versions.is_null()) doc["x-api-versions"] = info.versions;

  std::map<std::string, json::object> paths;  // sorted: a stable document
  std::set<std::string> tags;
  for (const auto& r : routes) {
    if (r.hidden) continue;
    std::string method;
    for (char c : r.method)
      method += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    paths[r.path][method] = operation(r, info);
    tags.insert(r.tag.empty() ? "General" : r.tag);
  }
  json::object p;
  for (auto& [path, ops] : paths) p[path] = std::move(ops);
  doc["paths"] = std::move(p);
  json::array tag_list;
  for (const auto& t : tags) tag_list.push_back(json::object{{"name", t}});
  doc["tags"] = std::move(tag_list);
  doc["components"] = json::object{
      {"schemas", json::object{{"Error", error_body_schema()}}},
      {"securitySchemes",
       json::object{
           {"bearerAuth", json::object{{"type", "http"},
                                       {"scheme", "bearer"},
                                       {"bearerFormat", "JWT"},
                                       {"description", "The access_token of POST /auth/login"}}},
           {"oauth2",
            json::object{{"type", "oauth2"},
                         {"description",
                          "Sign in with a login id and password (Swagger UI's "
                          "Authorize button); MFA users use POST /auth/login"},
                         {"flows", json::object{{"password",
                                                 json::object{{"tokenUrl", "/auth/login"},
                                                              {"scopes", json::object{}}}}}}}}}}};
  return doc;
}

}  // namespace evald::api
