#pragma once
// The route handlers of evald, called in-process on a scratch SQLite database, as the request
// pipeline would call them once authentication has passed. The fuzz targets api_bodies and
// query give it requests written as a small script:
//
//   POST /api/projects/$project/companies as secretary
//   Content-Type: application/json
//
//   {"name":"한국 평가 주식회사","registration_number":"1248100998"}
//
// The first line is the method, the target and optionally `as ROLE` (admin, secretary or
// evaluator; by default the first role the route allows). Header lines follow up to a blank
// line (Content-Type defaults to application/json); the rest is the body. `$name` anywhere is
// replaced by the id of an entity made at start ($admin, $secretary, $evaluator, $project,
// $company, $template, $item, $sheet, $file, $request), so that inputs can reach past "not
// found" into the services. One input may hold up to four calls separated by a line `###`
// (save scores, then submit, then review); `$last` is the id the previous call answered with.
//
// Properties checked on every answer: no exception escapes a handler, no 5xx, and every JSON
// body (error bodies rendered as the request-id layer renders them) is valid UTF-8 JSON.
// After an input that touched the database, the database is restored from the snapshot taken
// after seeding, so that each input runs against the same state and a crash reproduces alone.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/message.hpp"

namespace evald::fuzz {

struct ApiCall {
  std::string method;
  std::string target;
  std::string role;  ///< empty: the route's first role
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

/// Parses one call; nullopt when the first line is not "METHOD TARGET [as ROLE]".
std::optional<ApiCall> parse_api_call(std::string_view data);

/// Splits an input into its calls (at most four; malformed ones are left out).
std::vector<ApiCall> parse_api_script(std::string_view data);

struct ApiOutcome {
  bool routed = false;  ///< false: no route (404/405) or the role may not call it
  http::Response response;
};

/// Builds the application once (first call), seeds it and takes the snapshot.
void init_api_harness();

/// Runs the calls in order through their handlers and checks every answer; then restores the
/// database if they touched it. The outcome of each call, in order.
std::vector<ApiOutcome> run_api_script(const std::vector<ApiCall>& calls);

/// The ids made at start, by name without the '$'.
const std::map<std::string, std::string>& seeded_ids();

}  // namespace evald::fuzz
