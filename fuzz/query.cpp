// Query strings and pagination cursors: the shared readers of list endpoints
// (src/api/listing.*: limit, cursor, since/until; src/api/domain_kit.*: search;
// src/http/query.*), called directly, and then the list handlers themselves with their filters,
// through the in-process application (common/api_harness.hpp) on a seeded scratch database.
//
// Input: a request script of the API harness, usually a GET such as
//   GET /api/projects?status=active&search=%ED%95%9C&limit=2&cursor=... as evaluator
//
// Properties: no crash or UB; an accepted limit is 1..200; an accepted cursor adds exactly its
// keyset condition; every value bound to SQL is UTF-8 PostgreSQL accepts; error answers are
// valid JSON; no handler answers 5xx (see api_harness.hpp).

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "api/domain_kit.hpp"
#include "api/listing.hpp"
#include "common/api_harness.hpp"
#include "common/scratch.hpp"
#include "http/error_body.hpp"
#include "http/query.hpp"
#include "http/router.hpp"

namespace {

using namespace evald;
using fuzz::broken;

void check_bound_text(const api::Where& where, std::string_view context) {
  for (const auto& v : where.params()) {
    if (const auto* s = std::get_if<std::string>(&v)) {
      if (!fuzz::is_strict_utf8(*s) || s->find('\0') != std::string::npos) {
        broken("a list reader binds text PostgreSQL refuses (invalid UTF-8 or NUL)", context);
      }
    }
  }
}

void check_problems(const std::vector<FieldError>& problems, std::string_view context) {
  if (problems.empty()) return;
  const auto body =
      http::render_error_body(ApiError::validation("Invalid query", problems), "fuzz-request-0000",
                              std::chrono::system_clock::now(), true);
  if (!fuzz::is_valid_json(body)) broken("a query error body is not valid JSON", context);
}

void readers(const std::string& target) {
  http::Request req;
  req.method = "GET";
  req.target = target;
  const auto q = target.find('?');
  req.path = target.substr(0, q);
  if (q != std::string::npos) req.query = target.substr(q + 1);

  std::vector<FieldError> problems;
  api::Where where;
  const auto before = where.params().size();
  const auto page = api::read_page(req, where, problems);
  if (page.limit < 1 || page.limit > 200) broken("a page limit outside 1..200", target);
  const bool cursor_refused = std::any_of(problems.begin(), problems.end(),
                                          [](const FieldError& e) { return e.field == "cursor"; });
  const bool has_cursor = http::query_param(req.query, "cursor").has_value();
  const auto added = where.params().size() - before;
  if (added != (has_cursor && !cursor_refused ? 3u : 0u)) {
    broken("a cursor added another condition than its keyset", target);
  }
  api::read_time_range(req, where, problems);
  (void)api::fields::read_search(req, problems);
  check_bound_text(where, target);
  check_problems(problems, target);
  (void)api::newest_first(page);
  for (const char* name : {"status", "role", "active", "project_id", "format", "hours", "user"}) {
    (void)http::query_param(req.query, name);
  }
  std::string decoded;
  (void)http::percent_decode(req.path, decoded);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_api_harness();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto calls =
      fuzz::parse_api_script(std::string_view(reinterpret_cast<const char*>(data), size));
  for (const auto& call : calls) readers(call.target);
  if (!calls.empty()) fuzz::run_api_script(calls);
  return 0;
}
