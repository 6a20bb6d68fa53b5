// /api/projects (docs/DOMAIN.md, "Projects"). The handlers read and check the input, decide who
// may see what, and call the domain services on the worker pool. Companies: company_routes.cpp.

#include <boost/json.hpp>

#include "api/domain_kit.hpp"
#include "api/listing.hpp"
#include "api/routes.hpp"
#include "core/time_format.hpp"
#include "domain/files.hpp"
#include "domain/projects.hpp"
#include "http/body.hpp"
#include "http/query.hpp"

namespace evald::api {
namespace {

// A function, not a lambda local to the route table's builder: the handlers capture by
// reference, and a local would be gone (a dangling reference) by the time they run.
std::string now_text(const Clock& clock) { return format_iso8601(clock.now(), true); }

namespace json = boost::json;
namespace asio = boost::asio;
namespace dm = evald::domain;
using namespace fields;
using http::Request;
using http::RequestContext;
using http::Response;

// --- documentation ------------------------------------------------------------------------------

const char* const kProjectSchema = R"({"type":"object",
  "required":["id","name","description","start_date","end_date","deadline","status","created_by",
  "created_at","updated_at"],
  "properties":{"id":{"type":"string","format":"uuid"},"name":{"type":"string"},
  "description":{"type":["string","null"]},
  "start_date":{"type":["string","null"],"format":"date"},
  "end_date":{"type":["string","null"],"format":"date"},
  "deadline":{"type":["string","null"],"format":"date-time","description":"UTC"},
  "status":{"type":"string","enum":["active","closed","archived"]},
  "created_by":{"type":["string","null"],"format":"uuid"},
  "created_at":{"type":"string","format":"date-time"},
  "updated_at":{"type":"string","format":"date-time"}}})";

const char* const kProjectExample = R"({"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7",
  "name":"2026 한국 창업 지원 사업","description":"서면 평가 후 발표 평가",
  "start_date":"2026-03-01","end_date":"2026-06-30","deadline":"2026-05-31T09:00:00.000Z",
  "status":"active","created_by":"3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
  "created_at":"2026-02-20T01:00:00.000Z","updated_at":"2026-02-20T01:00:00.000Z"})";

const char* const kProjectInput = R"({"type":"object","additionalProperties":false,
  "properties":{"name":{"type":"string","minLength":1,"maxLength":200},
  "description":{"type":["string","null"],"maxLength":4000},
  "start_date":{"type":["string","null"],"format":"date"},
  "end_date":{"type":["string","null"],"format":"date","description":"not before start_date"},
  "deadline":{"type":["string","null"],"format":"date-time",
    "description":"any offset (2026-05-31T18:00:00+09:00); stored in UTC"},
  "status":{"type":"string","enum":["active","closed","archived"],"default":"active"}}})";

http::RouteSpec route(std::string method, std::string path, std::string tag, std::string summary,
                      std::string description, http::Handler handler) {
  return api::route(std::move(method), std::move(path), std::move(tag), std::move(summary),
                    std::move(description), kStaff, std::move(handler));
}

void id_param(http::RouteSpec& r, const char* what) { api::id_param(r, "id", what); }

// --- reading input ------------------------------------------------------------------------------

std::optional<std::string> read_date(http::Fields& f, std::string_view field) {
  auto s = read_string(f, field, 64);
  if (s && !http::is_valid_date(*s)) {
    f.fail(std::string(field), "Must be a date YYYY-MM-DD", "value_error.date");
    return std::nullopt;
  }
  return s;
}

std::optional<std::string> read_deadline(http::Fields& f) {
  auto s = read_string(f, "deadline", 64);
  if (!s) return s;
  auto n = normalize_iso8601(*s);
  if (!n) {
    f.fail("deadline", "Must be an ISO 8601 time with a zone, e.g. 2026-05-31T18:00:00+09:00",
           "value_error.datetime");
  }
  return n;
}

std::optional<std::string> read_status(http::Fields& f) {
  auto s = read_string(f, "status", 64);
  if (s && std::find(std::begin(dm::kProjectStatuses), std::end(dm::kProjectStatuses), *s) ==
               std::end(dm::kProjectStatuses)) {
    f.fail("status", "Must be one of: active, closed, archived", "value_error.enum");
    return std::nullopt;
  }
  return s;
}

dm::ProjectFields read_project(http::Fields& f) {
  f.reject_unknown({"name", "description", "start_date", "end_date", "deadline", "status"});
  dm::ProjectFields p;
  p.name = read_name(f, "name", dm::kProjectNameMax);
  p.description = read_text(f, "description", dm::kProjectDescriptionMax);
  p.start_date = read_date(f, "start_date");
  p.end_date = read_date(f, "end_date");
  p.deadline = read_deadline(f);
  p.status = read_status(f).value_or("active");
  if (p.start_date && p.end_date && *p.end_date < *p.start_date) {
    f.fail("end_date", "Must not be before start_date", "value_error.date_order");
  }
  return p;
}

dm::ProjectPatch read_project_patch(const json::object& o, http::Fields& f) {
  f.reject_unknown({"name", "description", "start_date", "end_date", "deadline", "status"});
  dm::ProjectPatch p;
  p.name = required_change(o, f, "name", [&] { return read_name(f, "name", dm::kProjectNameMax); });
  p.description = change(o, "description",
                         [&] { return read_text(f, "description", dm::kProjectDescriptionMax); });
  p.start_date = change(o, "start_date", [&] { return read_date(f, "start_date"); });
  p.end_date = change(o, "end_date", [&] { return read_date(f, "end_date"); });
  p.deadline = change(o, "deadline", [&] { return read_deadline(f); });
  p.status = required_change(o, f, "status", [&] { return read_status(f).value_or(""); });
  return p;
}

}  // namespace

std::vector<http::RouteSpec> project_routes(AppContext& app) {
  auto& db = *app.db;
  auto& workers = *app.workers;
  auto& clock = app.clock;
  std::vector<http::RouteSpec> routes;

  // --- projects ---------------------------------------------------------------------------------

  auto list = route(
      "GET", "/api/projects", "Projects", "List projects",
      "Newest first, paged with an opaque cursor. Staff see every project; an evaluator sees only "
      "the projects they have an evaluation sheet in. `search` looks in the name and the "
      "description (contains, case-insensitive).",
      [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
        Where where;
        std::vector<FieldError> problems;
        std::optional<std::string> status;
        if (auto s = http::query_param(req.query, "status")) {
          if (std::find(std::begin(dm::kProjectStatuses), std::end(dm::kProjectStatuses), *s) !=
              std::end(dm::kProjectStatuses)) {
            status = *s;
          } else {
            problems.push_back({"status", "Must be one of: active, closed, archived",
                                "value_error.enum", std::nullopt});
          }
        }
        const auto search = read_search(req, problems);
        const Page page = read_page(req, where, problems);
        if (!problems.empty()) {
          co_return Response::from_error(ApiError::validation("Invalid query", problems));
        }
        for (auto& c : dm::project_conditions(actor_of(ctx), status, search)) {
          where.add_raw(c.sql, c.values);
        }
        const std::string sql = dm::project_select() + where.sql() + newest_first(page);
        auto rows = co_await workers.run([&] { return db.query(sql, where.params()); });
        if (!rows) co_return Response::from_error(std::move(rows).error());
        co_return ok_json(page_json(
            *rows, page, [](const db::Rows& r, std::size_t i) { return dm::project_json(r, i); }));
      });
  list.roles.push_back(http::Role::kEvaluator);
  query_params(list, {{"status", "active, closed or archived"},
                      {"search", "text the name or description contains (at most 200 characters)"},
                      {"limit", "1 to 200, default 50"},
                      {"cursor", "next_cursor of the previous page"}});
  list.responses.push_back({200, "A page of projects", "application/json",
                            schema(list_schema(kProjectSchema)),
                            schema(list_example(kProjectExample))});
  errors(list, {{400, "A bad filter, limit or cursor"}});
  routes.push_back(std::move(list));

  auto create = route(
      "POST", "/api/projects", "Projects", "Create a project",
      "Status defaults to active. Dates are YYYY-MM-DD and end_date is not before start_date; the "
      "deadline is a time with any offset, stored in UTC.",
      [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
        json::object o;
        if (auto bad = read_body(req, o)) co_return std::move(*bad);
        http::Fields f(o);
        const auto in = read_project(f);
        if (!f.ok()) co_return Response::from_error(f.error());
        const auto actor = actor_of(ctx);
        const auto at = now_text(clock);
        auto r = co_await workers.run([&] {
          return transaction<json::object>(
              db, true, [&](db::Tx& tx) { return dm::create_project(tx, actor, in, at); });
        });
        co_return answer(std::move(r), 201);
      });
  create.request_body = http::BodyDoc{
      "application/json", schema(with_required(kProjectInput, R"(["name"])")),
      schema(R"({"name":"2026 한국 창업 지원 사업","description":"서면 평가 후 발표 평가",
        "start_date":"2026-03-01","end_date":"2026-06-30","deadline":"2026-05-31T18:00:00+09:00"})")};
  create.responses.push_back(
      {201, "Created", "application/json", schema(kProjectSchema), schema(kProjectExample)});
  errors(create, {{400, "Invalid fields (every problem in details)"}});
  routes.push_back(std::move(create));

  auto get = route(
      "GET", "/api/projects/{id}", "Projects", "One project",
      "An evaluator sees a project only when they have a sheet in it; otherwise 404, as for an "
      "unknown id.",
      [&](Request&, RequestContext& ctx) -> asio::awaitable<Response> {
        const std::string id(ctx.param("id"));
        const auto actor = actor_of(ctx);
        auto r = co_await workers.run([&] {
          return transaction<json::object>(
              db, false, [&](db::Tx& tx) { return dm::get_project(tx, actor, id); });
        });
        co_return answer(std::move(r));
      });
  get.roles.push_back(http::Role::kEvaluator);
  id_param(get, "the project's id");
  get.responses.push_back(
      {200, "The project", "application/json", schema(kProjectSchema), schema(kProjectExample)});
  errors(get, {{404, "No such project (or not visible to the caller)"}});
  routes.push_back(std::move(get));

  auto patch = route(
      "PATCH", "/api/projects/{id}", "Projects", "Change a project",
      "Only the fields given change; null clears description, dates and deadline. The date order "
      "is checked on the result.",
      [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
        const std::string id(ctx.param("id"));
        if (!dm::is_uuid(id)) co_return Response::from_error(dm::not_found("Project"));
        json::object o;
        if (auto bad = read_body(req, o)) co_return std::move(*bad);
        http::Fields f(o);
        const auto in = read_project_patch(o, f);
        if (!f.ok()) co_return Response::from_error(f.error());
        const auto at = now_text(clock);
        auto r = co_await workers.run([&] {
          return transaction<json::object>(
              db, true, [&](db::Tx& tx) { return dm::update_project(tx, id, in, at); });
        });
        co_return answer(std::move(r));
      });
  id_param(patch, "the project's id");
  patch.request_body = http::BodyDoc{"application/json", schema(kProjectInput),
                                     schema(R"({"status":"closed","deadline":null})")};
  patch.responses.push_back(
      {200, "The project", "application/json", schema(kProjectSchema), schema(kProjectExample)});
  errors(patch, {{400, "Invalid fields"}, {404, "No such project"}});
  routes.push_back(std::move(patch));

  auto del = route(
      "DELETE", "/api/projects/{id}", "Projects", "Delete a project",
      "Deletes the project with its companies, templates, sheets, scores and file records. 422 "
      "when any of its sheets is submitted or reviewed (close or archive it instead).",
      [&](Request&, RequestContext& ctx) -> asio::awaitable<Response> {
        const std::string id(ctx.param("id"));
        auto st = co_await workers.run([&] {
          return dm::delete_project_with_files(
              db, *app.files, id, [&](db::Tx& tx) { return dm::delete_project(tx, id); });
        });
        if (!st) co_return Response::from_error(std::move(st).error());
        co_return no_content();
      });
  id_param(del, "the project's id");
  del.responses.push_back({204, "Deleted", "", {}, {}});
  errors(del, {{404, "No such project"}, {422, "The project has submitted sheets"}});
  routes.push_back(std::move(del));

  return routes;
}

}  // namespace evald::api
