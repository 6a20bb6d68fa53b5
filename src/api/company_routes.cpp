// /api/projects/{id}/companies, /api/companies and the batch import of companies from JSON or
// CSV (docs/DOMAIN.md, "Companies"). The handlers read and check the input, decide who may see
// what, and call the domain services on the worker pool.

#include <boost/json.hpp>

#include "api/company_input.hpp"
#include "api/domain_kit.hpp"
#include "api/listing.hpp"
#include "api/routes.hpp"
#include "core/time_format.hpp"
#include "domain/companies.hpp"
#include "domain/csv.hpp"
#include "domain/files.hpp"
#include "domain/projects.hpp"
#include "http/body.hpp"
#include "http/multipart.hpp"
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
using namespace company_input;

constexpr std::size_t kMaxMultipartParts = 8;

// --- documentation ------------------------------------------------------------------------------

const char* const kCompanySchema = R"({"type":"object",
  "required":["id","project_id","name","registration_number","representative","address",
  "contact_email","contact_phone","created_at","updated_at"],
  "properties":{"id":{"type":"string","format":"uuid"},
  "project_id":{"type":"string","format":"uuid"},"name":{"type":"string"},
  "registration_number":{"type":"string","pattern":"^[0-9]{3}-[0-9]{2}-[0-9]{5}$"},
  "representative":{"type":["string","null"]},"address":{"type":["string","null"]},
  "contact_email":{"type":["string","null"],"format":"email"},
  "contact_phone":{"type":["string","null"]},
  "created_at":{"type":"string","format":"date-time"},
  "updated_at":{"type":"string","format":"date-time"}}})";

const char* const kCompanyExample = R"({"id":"9b2f3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
  "project_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","name":"한국 평가 주식회사",
  "registration_number":"124-81-00998","representative":"홍길동",
  "address":"서울특별시 중구 세종대로 110","contact_email":"contact@example.co.kr",
  "contact_phone":"02-1234-5678","created_at":"2026-02-20T01:00:00.000Z",
  "updated_at":"2026-02-20T01:00:00.000Z"})";

const char* const kCompanyInput = R"({"type":"object","additionalProperties":false,
  "properties":{"name":{"type":"string","minLength":1,"maxLength":200},
  "registration_number":{"type":"string","description":
    "Korean business registration number: 10 digits with a valid check digit, NNN-NN-NNNNN or without hyphens; stored hyphenated; unique in the project"},
  "representative":{"type":["string","null"],"maxLength":100},
  "address":{"type":["string","null"],"maxLength":500},
  "contact_email":{"type":["string","null"],"format":"email","maxLength":254},
  "contact_phone":{"type":["string","null"],"maxLength":30,
    "description":"digits, spaces and + - ( ) ."}}})";

const char* const kCompanyInputExample = R"({"name":"한국 평가 주식회사",
  "registration_number":"1248100998","representative":"홍길동",
  "address":"서울특별시 중구 세종대로 110","contact_email":"contact@example.co.kr",
  "contact_phone":"02-1234-5678"})";

http::RouteSpec route(std::string method, std::string path, std::string tag, std::string summary,
                      std::string description, http::Handler handler) {
  return api::route(std::move(method), std::move(path), std::move(tag), std::move(summary),
                    std::move(description), kStaff, std::move(handler));
}

void id_param(http::RouteSpec& r, const char* what) { api::id_param(r, "id", what); }

}  // namespace

std::vector<http::RouteSpec> company_routes(AppContext& app) {
  auto& db = *app.db;
  auto& workers = *app.workers;
  auto& clock = app.clock;
  std::vector<http::RouteSpec> routes;

  auto list_companies = route(
      "GET", "/api/projects/{id}/companies", "Companies", "List the companies of a project",
      "Newest first, paged with an opaque cursor. `search` looks in the name, the representative "
      "and the registration number (with or without hyphens).",
      [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
        const std::string project_id(ctx.param("id"));
        if (!dm::is_uuid(project_id)) {
          co_return Response::from_error(dm::not_found("Project"));
        }
        Where where;
        std::vector<FieldError> problems;
        const auto search = read_search(req, problems);
        const Page page = read_page(req, where, problems);
        if (!problems.empty()) {
          co_return Response::from_error(ApiError::validation("Invalid query", problems));
        }
        for (auto& c : dm::company_conditions(project_id, search)) where.add_raw(c.sql, c.values);
        const std::string sql = dm::company_select() + where.sql() + newest_first(page);
        auto rows = co_await workers.run([&] {
          return transaction<db::Rows>(db, false, [&](db::Tx& tx) -> Result<db::Rows> {
            if (auto st = dm::require_project(tx, project_id); !st) return std::move(st).error();
            return tx.query(sql, where.params());
          });
        });
        if (!rows) co_return Response::from_error(std::move(rows).error());
        co_return ok_json(page_json(
            *rows, page, [](const db::Rows& r, std::size_t i) { return dm::company_json(r, i); }));
      });
  id_param(list_companies, "the project's id");
  query_params(list_companies,
               {{"search", "text the name, representative or registration number contains"},
                {"limit", "1 to 200, default 50"},
                {"cursor", "next_cursor of the previous page"}});
  list_companies.responses.push_back({200, "A page of companies", "application/json",
                                      schema(list_schema(kCompanySchema)),
                                      schema(list_example(kCompanyExample))});
  errors(list_companies, {{400, "A bad search, limit or cursor"}, {404, "No such project"}});
  routes.push_back(std::move(list_companies));

  auto create_company = route(
      "POST", "/api/projects/{id}/companies", "Companies", "Register a company in a project",
      "The registration number is checked (format and check digit) and stored as NNN-NN-NNNNN; "
      "it is unique within the project (409 with the field).",
      [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
        const std::string project_id(ctx.param("id"));
        if (!dm::is_uuid(project_id)) {
          co_return Response::from_error(dm::not_found("Project"));
        }
        json::object o;
        if (auto bad = read_body(req, o)) co_return std::move(*bad);
        http::Fields f(o);
        const auto in = read_company(f);
        if (!f.ok()) co_return Response::from_error(f.error());
        const auto at = now_text(clock);
        auto r = co_await workers.run([&] {
          return transaction<json::object>(
              db, true, [&](db::Tx& tx) { return dm::create_company(tx, project_id, in, at); });
        });
        co_return answer(std::move(r), 201);
      });
  id_param(create_company, "the project's id");
  create_company.request_body = http::BodyDoc{
      "application/json", schema(with_required(kCompanyInput, R"(["name","registration_number"])")),
      schema(kCompanyInputExample)};
  create_company.responses.push_back(
      {201, "Created", "application/json", schema(kCompanySchema), schema(kCompanyExample)});
  errors(create_company, {{400, "Invalid fields"},
                          {404, "No such project"},
                          {409, "The registration number is already in the project"}});
  routes.push_back(std::move(create_company));

  auto batch = route(
      "POST", "/api/companies/batch", "Companies", "Import companies in one batch",
      "All or nothing, at most 1,000 companies. Three forms:\n"
      "- `application/json`: `{project_id, companies: [...]}`; problems are reported as "
      "`companies[i].field`;\n"
      "- `text/csv` (UTF-8) with `?project_id=`;\n"
      "- `multipart/form-data` with the fields `project_id` and `file` (the CSV).\n"
      "A CSV starts with a header row naming its columns (name, registration_number, "
      "representative, address, contact_email, contact_phone; any order, the first two "
      "required); a UTF-8 BOM is accepted, fields may be quoted (with commas, line breaks and "
      "doubled quotes inside); blank rows are skipped. Its problems are reported as "
      "`row N: field`, N being the row a spreadsheet shows (the header is row 1). Any invalid "
      "item: 400 with every problem; a number repeated within the batch or already in the "
      "project: 409 with every such item; nothing is written in either case.",
      [&](Request& req, RequestContext&) -> asio::awaitable<Response> {
        BatchInput in;
        const auto type = media_type(req);
        if (type == "application/json") {
          json::object o;
          if (auto bad = read_body(req, o)) co_return std::move(*bad);
          read_json_batch(o, in);
        } else if (type == "text/csv") {
          if (!utf8_charset(req)) {
            co_return Response::from_error(ApiError::validation(
                "The CSV must be UTF-8",
                {{"body", "charset must be utf-8", "value_error.charset", std::nullopt}}));
          }
          in.project_id = http::query_param(req.query, "project_id");
          check_project_id("project_id", in.project_id, in.problems);
          read_company_csv(req.body, in.items, in.labels, in.problems);
        } else if (type == "multipart/form-data") {
          auto parts = http::parse_multipart(req, kMaxMultipartParts);
          if (!parts) co_return Response::from_error(std::move(parts).error());
          read_multipart_batch(*parts, in);
        } else {
          co_return Response::from_error(ApiError::validation(
              "Unsupported body",
              {{"body", "Content-Type must be application/json, text/csv or multipart/form-data",
                "type_error.content_type", std::nullopt}}));
        }
        if (!in.problems.empty()) {
          co_return Response::from_error(
              ApiError::validation("Request validation failed", std::move(in.problems)));
        }
        const auto at = now_text(clock);
        auto r = co_await workers.run([&] {
          return transaction<json::array>(db, true, [&](db::Tx& tx) {
            return dm::create_companies(tx, *in.project_id, in.items, in.labels, at);
          });
        });
        if (!r) co_return Response::from_error(std::move(r).error());
        const auto created = r->size();
        co_return ok_json(json::object{{"created", created}, {"items", std::move(*r)}}, 201);
      });
  batch.rate_category = http::RateCategory::kBulk;
  query_params(batch, {{"project_id", "the project, for a text/csv body"}});
  batch.request_body = http::BodyDoc{
      "application/json",
      schema(std::string(R"({"type":"object","required":["project_id","companies"],
        "additionalProperties":false,"properties":{"project_id":{"type":"string","format":"uuid"},
        "companies":{"type":"array","minItems":1,"maxItems":1000,"items":)") +
             with_required(kCompanyInput, R"(["name","registration_number"])") + "}}}"),
      schema(std::string(R"({"project_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","companies":[)") +
             kCompanyInputExample +
             R"(,{"name":"주식회사 다음","registration_number":"220-81-62517"}]})")};
  batch.responses.push_back(
      {201, "Created, in input order", "application/json",
       schema(std::string(R"({"type":"object","required":["created","items"],"properties":{
         "created":{"type":"integer"},"items":{"type":"array","items":)") +
              kCompanySchema + "}}}"),
       schema(std::string(R"({"created":1,"items":[)") + kCompanyExample + "]}")});
  errors(batch, {{400, "Invalid items (every problem in details)"},
                 {404, "No such project"},
                 {409, "Registration numbers repeated in the batch or already in the project"},
                 {413, "Body larger than MAX_BODY_BYTES"}});
  routes.push_back(std::move(batch));

  auto get_company =
      route("GET", "/api/companies/{id}", "Companies", "One company",
            "Staff see every company; an evaluator only a company they have a sheet for (otherwise "
            "404, as for an unknown id).",
            [&](Request&, RequestContext& ctx) -> asio::awaitable<Response> {
              const std::string id(ctx.param("id"));
              const auto actor = actor_of(ctx);
              auto r = co_await workers.run([&] {
                return transaction<json::object>(
                    db, false, [&](db::Tx& tx) { return dm::get_company(tx, actor, id); });
              });
              co_return answer(std::move(r));
            });
  get_company.roles.push_back(http::Role::kEvaluator);
  id_param(get_company, "the company's id");
  get_company.responses.push_back(
      {200, "The company", "application/json", schema(kCompanySchema), schema(kCompanyExample)});
  errors(get_company, {{404, "No such company (or not visible to the caller)"}});
  routes.push_back(std::move(get_company));

  auto patch_company = route(
      "PATCH", "/api/companies/{id}", "Companies", "Change a company",
      "Only the fields given change; null clears the optional ones. A new registration number "
      "is checked and must stay unique within the project (409).",
      [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
        const std::string id(ctx.param("id"));
        if (!dm::is_uuid(id)) co_return Response::from_error(dm::not_found("Company"));
        json::object o;
        if (auto bad = read_body(req, o)) co_return std::move(*bad);
        http::Fields f(o);
        const auto in = read_company_patch(o, f);
        if (!f.ok()) co_return Response::from_error(f.error());
        const auto at = now_text(clock);
        auto r = co_await workers.run([&] {
          return transaction<json::object>(
              db, true, [&](db::Tx& tx) { return dm::update_company(tx, id, in, at); });
        });
        co_return answer(std::move(r));
      });
  id_param(patch_company, "the company's id");
  patch_company.request_body = http::BodyDoc{"application/json", schema(kCompanyInput),
                                             schema(R"({"contact_phone":null,"address":"부산"})")};
  patch_company.responses.push_back(
      {200, "The company", "application/json", schema(kCompanySchema), schema(kCompanyExample)});
  errors(patch_company, {{400, "Invalid fields"},
                         {404, "No such company"},
                         {409, "The registration number is already in the project"}});
  routes.push_back(std::move(patch_company));

  auto del_company = route(
      "DELETE", "/api/companies/{id}", "Companies", "Delete a company",
      "Deletes the company with its sheets, scores and file records; 422 when one of its sheets "
      "is submitted or reviewed.",
      [&](Request&, RequestContext& ctx) -> asio::awaitable<Response> {
        const std::string id(ctx.param("id"));
        auto st = co_await workers.run([&] {
          return dm::delete_company_with_files(
              db, *app.files, id, [&](db::Tx& tx) { return dm::delete_company(tx, id); });
        });
        if (!st) co_return Response::from_error(std::move(st).error());
        co_return no_content();
      });
  id_param(del_company, "the company's id");
  del_company.responses.push_back({204, "Deleted", "", {}, {}});
  errors(del_company, {{404, "No such company"}, {422, "The company has submitted sheets"}});
  routes.push_back(std::move(del_company));

  return routes;
}

}  // namespace evald::api
