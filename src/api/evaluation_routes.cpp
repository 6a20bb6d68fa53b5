// /api/assignments (secretaries and admins assign; evaluators list their own) and
// /api/evaluations (evaluators score their own sheets; staff read, reopen and review them).
// docs/DOMAIN.md, "Assignments" and "Evaluation sheets".

#include <boost/json.hpp>
#include <limits>

#include "api/domain_kit.hpp"
#include "api/listing.hpp"
#include "api/routes.hpp"
#include "auth/service.hpp"
#include "core/time_format.hpp"
#include "domain/evaluations.hpp"
#include "domain/templates.hpp"
#include "http/body.hpp"
#include "http/query.hpp"

namespace evald::api {
namespace {

namespace json = boost::json;
namespace asio = boost::asio;
using http::Request;
using http::RequestContext;
using http::Response;

constexpr std::int64_t kMaxVersion = std::numeric_limits<std::int32_t>::max();

const char* const kSheetSchema = R"({"type":"object",
  "required":["id","project_id","evaluator_id","company_id","template_id","status","version"],
  "properties":{"id":{"type":"string","format":"uuid"},"project_id":{"type":"string"},
  "evaluator_id":{"type":"string"},"company_id":{"type":"string"},"template_id":{"type":"string"},
  "status":{"type":"string","enum":["assigned","in_progress","submitted","reviewed"]},
  "deadline":{"type":["string","null"],"description":"UTC; submitting needs now < deadline"},
  "total_score":{"type":["number","null"],
    "description":"sum of the item scores, set at submission"},
  "weighted_score":{"type":["number","null"],
    "description":"sum(score/max_score*weight)/sum(weight)*100 over the scored items, 0 to 100"},
  "version":{"type":"integer","description":"optimistic concurrency: send it back to change"},
  "submitted_at":{"type":["string","null"]},"reviewed_at":{"type":["string","null"]},
  "opinion":{"type":["string","null"]},"created_at":{"type":"string"},
  "updated_at":{"type":"string"}}})";

const char* const kScoresSchema = R"({"type":"array","items":{"type":"object",
  "required":["item_id","score","opinion"],"properties":{"item_id":{"type":"string"},
  "score":{"type":["number","null"]},"opinion":{"type":["string","null"]}}}})";

const char* const kSheetExample = R"({"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7",
  "project_id":"1b4e28ba-2fa1-41d2-883f-0016d3cca427",
  "evaluator_id":"6ec0bd7f-11c0-43da-975e-2a8ad9ebae0b",
  "company_id":"a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
  "template_id":"0b9f8c1e-4a52-4a8e-9d1f-2f3c4d5e6f70","status":"assigned",
  "deadline":"2026-03-31T15:00:00.000Z","total_score":null,"weighted_score":null,"version":1,
  "submitted_at":null,"reviewed_at":null,"opinion":null,
  "created_at":"2026-03-01T09:00:00.000Z","updated_at":"2026-03-01T09:00:00.000Z"})";

std::string sheet_with_scores_schema() {
  std::string s = kSheetSchema;
  s.pop_back();  // the closing brace of the object
  s.pop_back();  // ... and of its properties
  return s + R"(,"scores":)" + kScoresSchema + "}}";
}

const char* const kScoresExample =
    R"([{"item_id":"3d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b0a","score":8,"opinion":"시장성이 뚜렷함"}])";

// kSheetExample in `status`, with scores (as the sheet-changing operations answer).
std::string sheet_with_scores_example(std::string_view status, int version) {
  auto v = json::parse(kSheetExample).as_object();
  v["status"] = status;
  v["version"] = version;
  if (status != "in_progress") {
    v["total_score"] = 8;
    v["weighted_score"] = 80;
    v["submitted_at"] = "2026-03-20T05:00:00.000Z";
  }
  if (status == "reviewed") v["reviewed_at"] = "2026-03-21T01:00:00.000Z";
  v["scores"] = json::parse(kScoresExample);
  return json::serialize(v);
}

domain::AuditContext audit_of(const Request& req, const RequestContext& ctx) {
  const auto c = auth::client_info(req, ctx);
  return domain::AuditContext{c.ip, c.user_agent, c.request_id};
}

void id_param(http::RouteSpec& r) {
  api::id_param(r, "sheet_id", "the evaluation sheet's (assignment's) id");
}

// A required id field: a UUID-shaped string.
std::string required_id(http::Fields& f, std::string_view name, const std::string& prefix = {}) {
  std::string s = f.required_string(name, 1, 64);
  if (!s.empty() && !domain::is_uuid(s)) {
    f.fail(prefix + std::string(name), "Must be a UUID", "value_error.uuid");
  }
  return s;
}

// A deadline: absent (outer nullopt), null (inner nullopt) or a time with a zone, kept in UTC.
std::optional<std::optional<std::string>> read_deadline(http::Fields& f, const json::object& o) {
  if (!f.has("deadline")) return std::nullopt;
  if (o.at("deadline").is_null()) return std::optional<std::string>{};
  auto s = f.optional_string("deadline", 64);
  if (!s || !o.at("deadline").is_string()) return std::nullopt;  // wrong type: reported
  auto n = normalize_iso8601(*s);
  if (!n) {
    f.fail("deadline",
           "Must be an ISO 8601 time with a zone, e.g. 2026-03-31T23:59:59+09:00 or "
           "2026-03-31T14:59:59Z",
           "value_error.datetime");
    return std::nullopt;
  }
  return std::optional<std::string>(*n);
}

std::int64_t required_version(http::Fields& f, const json::object& o) {
  if (!f.has("version") || o.at("version").is_null()) {
    f.fail("version", "Field required", "value_error.missing");
    return 0;
  }
  return f.optional_integer("version", 1, kMaxVersion).value_or(0);
}

// Query filters that must be UUIDs.
void id_filter(const Request& req, std::string_view name, Where& where,
               std::vector<FieldError>& problems) {
  if (auto v = http::query_param(req.query, name)) {
    if (!domain::is_uuid(*v)) {
      problems.push_back({std::string(name), "Must be a UUID", "value_error.uuid", std::nullopt});
    } else {
      where.add(std::string(name) + " =", *v);
    }
  }
}

}  // namespace

std::vector<http::RouteSpec> evaluation_routes(AppContext& app) {
  auto& db = *app.db;
  auto& workers = *app.workers;
  const Clock& clock = app.clock;
  std::vector<http::RouteSpec> routes;

  // --- POST /api/assignments --------------------------------------------------------------
  auto create = route(
      "POST", "/api/assignments", "Assignments", "Assign a company to an evaluator",
      "Creates the evaluation sheet (status assigned, version 1). The evaluator must be an "
      "active user with role evaluator, the company must belong to the project (which must be "
      "active), and the template must be active and either global or of the project: otherwise "
      "422 naming the field. The deadline defaults to the project's; any time may be given "
      "(with Z or an offset; stored in UTC). The same evaluator x company x template twice is "
      "409.",
      kStaff, [&](Request& req, RequestContext&) -> asio::awaitable<Response> {
        auto parsed = body_object(req, false);
        if (!parsed) co_return Response::from_error(std::move(parsed).error());
        const json::object& o = *parsed;
        http::Fields f(o);
        domain::AssignmentInput in;
        in.project_id = required_id(f, "project_id");
        in.evaluator_id = required_id(f, "evaluator_id");
        in.company_id = required_id(f, "company_id");
        in.template_id = required_id(f, "template_id");
        if (auto d = read_deadline(f, o)) in.deadline = *d;
        f.reject_unknown({"project_id", "evaluator_id", "company_id", "template_id", "deadline"});
        if (!f.ok()) co_return Response::from_error(f.error());
        auto r = co_await workers.run([&] { return domain::create_assignment(db, clock, in); });
        co_return answer(std::move(r), 201);
      });
  create.request_body = http::BodyDoc{
      "application/json",
      schema(
          R"({"type":"object","required":["project_id","evaluator_id","company_id","template_id"],
        "additionalProperties":false,"properties":{"project_id":{"type":"string","format":"uuid"},
        "evaluator_id":{"type":"string","format":"uuid"},
        "company_id":{"type":"string","format":"uuid"},
        "template_id":{"type":"string","format":"uuid"},
        "deadline":{"type":["string","null"],"format":"date-time"}}})"),
      schema(R"({"project_id":"1b4e28ba-2fa1-41d2-883f-0016d3cca427",
        "evaluator_id":"6ec0bd7f-11c0-43da-975e-2a8ad9ebae0b",
        "company_id":"a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
        "template_id":"0b9f8c1e-4a52-4a8e-9d1f-2f3c4d5e6f70",
        "deadline":"2026-04-01T00:00:00+09:00"})")};
  create.responses.push_back(
      {201, "The new sheet", "application/json", schema(kSheetSchema), schema(kSheetExample)});
  errors(create, {{400, "Validation failed"},
                  {403, "Not a secretary or admin"},
                  {409, "Already assigned"},
                  {422, "Evaluator, company, project or template does not fit (details)"}});
  routes.push_back(std::move(create));

  // --- POST /api/assignments/batch --------------------------------------------------------
  auto batch = route(
      "POST", "/api/assignments/batch", "Assignments", "Assign many pairs at once",
      "Up to 5,000 {evaluator_id, company_id} pairs for one project and template; all or "
      "nothing. Problems are reported per pair (pairs[7].evaluator_id): a pair that does not fit "
      "is 422, a pair assigned already or repeated within the batch is 409. Answers "
      "{created, items}.",
      kStaff, [&](Request& req, RequestContext&) -> asio::awaitable<Response> {
        auto parsed = body_object(req, false);
        if (!parsed) co_return Response::from_error(std::move(parsed).error());
        const json::object& o = *parsed;
        http::Fields f(o);
        domain::AssignmentBatchInput in;
        in.project_id = required_id(f, "project_id");
        in.template_id = required_id(f, "template_id");
        if (auto d = read_deadline(f, o)) in.deadline = *d;
        if (!f.has("pairs") || o.at("pairs").is_null()) {
          f.fail("pairs", "Field required", "value_error.missing");
        } else if (const auto* pairs = f.optional_array("pairs", domain::kMaxBatchPairs)) {
          if (pairs->empty()) f.fail("pairs", "At least one pair", "value_error.list.min_items");
          in.pairs.reserve(pairs->size());
          for (std::size_t i = 0; i < pairs->size(); ++i) {
            const std::string at = "pairs[" + std::to_string(i) + "]";
            if (!(*pairs)[i].is_object()) {
              f.fail(at, "Must be an object", "type_error.dict");
              continue;
            }
            http::Fields g((*pairs)[i].as_object());
            domain::AssignmentPair p;
            p.evaluator_id = required_id(g, "evaluator_id");
            p.company_id = required_id(g, "company_id");
            g.reject_unknown({"evaluator_id", "company_id"});
            for (const auto& e : g.errors()) f.fail(at + "." + e.field, e.message, e.code);
            in.pairs.push_back(std::move(p));
          }
        }
        f.reject_unknown({"project_id", "template_id", "deadline", "pairs"});
        if (!f.ok()) co_return Response::from_error(f.error());
        auto r =
            co_await workers.run([&] { return domain::create_assignment_batch(db, clock, in); });
        co_return answer(std::move(r), 201);
      });
  batch.rate_category = http::RateCategory::kBulk;
  batch.request_body =
      http::BodyDoc{"application/json",
                    schema(R"({"type":"object","required":["project_id","template_id","pairs"],
        "additionalProperties":false,"properties":{"project_id":{"type":"string","format":"uuid"},
        "template_id":{"type":"string","format":"uuid"},
        "deadline":{"type":["string","null"],"format":"date-time"},
        "pairs":{"type":"array","minItems":1,"maxItems":5000,"items":{"type":"object",
          "required":["evaluator_id","company_id"],"additionalProperties":false,"properties":{
          "evaluator_id":{"type":"string","format":"uuid"},
          "company_id":{"type":"string","format":"uuid"}}}}}})"),
                    schema(R"({"project_id":"1b4e28ba-2fa1-41d2-883f-0016d3cca427",
        "template_id":"0b9f8c1e-4a52-4a8e-9d1f-2f3c4d5e6f70",
        "pairs":[{"evaluator_id":"6ec0bd7f-11c0-43da-975e-2a8ad9ebae0b",
                  "company_id":"a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"}]})")};
  batch.responses.push_back(
      {201, "Every pair assigned", "application/json",
       schema(std::string(R"({"type":"object","required":["created","items"],"properties":{
         "created":{"type":"integer"},"items":{"type":"array","items":)") +
              kSheetSchema + "}}}"),
       schema(std::string(R"({"created":1,"items":[)") + kSheetExample + "]}")});
  errors(batch, {{400, "Validation failed (pairs[i].field)"},
                 {403, "Not a secretary or admin"},
                 {409, "Pairs assigned already or repeated (pairs[i])"},
                 {413, "Body larger than MAX_BODY_BYTES"},
                 {422, "Pairs that do not fit (pairs[i].field), or the project or template"}});
  routes.push_back(std::move(batch));

  // --- GET /api/assignments ---------------------------------------------------------------
  auto list = route(
      "GET", "/api/assignments", "Assignments", "List assignments (evaluation sheets)",
      "Newest first, paged with an opaque cursor. Filters: project_id, evaluator_id, "
      "company_id, status. An evaluator sees only their own sheets: an evaluator_id filter naming "
      "someone else simply matches nothing.",
      {}, [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
        Where where;
        std::vector<FieldError> problems;
        const auto actor = actor_of(ctx);
        if (!actor.is_staff()) where.add("evaluator_id =", actor.user_id);
        id_filter(req, "project_id", where, problems);
        id_filter(req, "evaluator_id", where, problems);
        id_filter(req, "company_id", where, problems);
        if (auto s = http::query_param(req.query, "status")) {
          if (*s != "assigned" && *s != "in_progress" && *s != "submitted" && *s != "reviewed") {
            problems.push_back({"status",
                                "Must be one of: assigned, in_progress, submitted, reviewed",
                                "value_error.enum", *s});
          } else {
            where.add("status =", *s);
          }
        }
        const Page page = read_page(req, where, problems);
        if (!problems.empty()) {
          co_return Response::from_error(ApiError::validation("Invalid query", problems));
        }
        const std::string sql = std::string("SELECT ") + domain::kSheetColumns +
                                " FROM evaluation_sheets" + where.sql() + newest_first(page);
        auto rows = co_await workers.run([&] { return db.query(sql, where.params()); });
        if (!rows) co_return Response::from_error(std::move(rows).error());
        co_return ok_json(page_json(*rows, page, [](const db::Rows& r, std::size_t i) {
          return domain::sheet_json(r, i);
        }));
      });
  for (auto [name, desc, sch] :
       std::initializer_list<std::tuple<const char*, const char*, const char*>>{
           {"project_id", "only this project's", R"({"type":"string","format":"uuid"})"},
           {"evaluator_id", "only this evaluator's", R"({"type":"string","format":"uuid"})"},
           {"company_id", "only this company's", R"({"type":"string","format":"uuid"})"},
           {"status", "assigned, in_progress, submitted or reviewed",
            R"({"type":"string","enum":["assigned","in_progress","submitted","reviewed"]})"}}) {
    list.params.push_back({name, "query", false, desc, schema(sch)});
  }
  list_params(list);
  list.responses.push_back({200, "A page of sheets", "application/json",
                            schema(list_schema(kSheetSchema)),
                            schema(list_example(kSheetExample))});
  errors(list, {{400, "A filter, limit or cursor is invalid"}});
  routes.push_back(std::move(list));

  // --- PATCH /api/assignments/{sheet_id} --------------------------------------------------
  auto patch = route(
      "PATCH", "/api/assignments/{sheet_id}", "Assignments", "Change an assignment's deadline",
      "{deadline}: a new deadline (any time, with Z or an offset; null removes it). The sheet's "
      "version does not change, so an evaluator's open draft stays valid.",
      kStaff, [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
        const std::string id(ctx.param("sheet_id"));
        auto parsed = body_object(req, false);
        if (!parsed) co_return Response::from_error(std::move(parsed).error());
        const json::object& o = *parsed;
        http::Fields f(o);
        std::optional<std::string> deadline;
        if (!f.has("deadline")) {
          f.fail("deadline", "Field required", "value_error.missing");
        } else if (auto d = read_deadline(f, o)) {
          deadline = *d;
        }
        f.reject_unknown({"deadline"});
        if (!f.ok()) co_return Response::from_error(f.error());
        auto r =
            co_await workers.run([&] { return domain::set_deadline(db, clock, id, deadline); });
        co_return answer(std::move(r));
      });
  id_param(patch);
  patch.request_body =
      http::BodyDoc{"application/json",
                    schema(R"({"type":"object","required":["deadline"],"additionalProperties":false,
        "properties":{"deadline":{"type":["string","null"],"format":"date-time"}}})"),
                    schema(R"({"deadline":"2026-04-15T18:00:00+09:00"})")};
  patch.responses.push_back(
      {200, "The sheet", "application/json", schema(kSheetSchema), schema(kSheetExample)});
  errors(patch,
         {{400, "Validation failed"}, {403, "Not a secretary or admin"}, {404, "No such sheet"}});
  routes.push_back(std::move(patch));

  // --- DELETE /api/assignments/{sheet_id} -------------------------------------------------
  auto del =
      route("DELETE", "/api/assignments/{sheet_id}", "Assignments", "Withdraw an assignment",
            "Deletes the sheet and its draft scores, only while nothing was ever submitted on it "
            "(422 otherwise: a submitted evaluation is kept).",
            kStaff, [&](Request&, RequestContext& ctx) -> asio::awaitable<Response> {
              const std::string id(ctx.param("sheet_id"));
              auto st = co_await workers.run([&] { return domain::delete_assignment(db, id); });
              if (!st) co_return Response::from_error(st.error());
              co_return no_content();
            });
  id_param(del);
  del.responses.push_back({204, "Deleted", "", {}, {}});
  errors(del, {{403, "Not a secretary or admin"},
               {404, "No such sheet"},
               {422, "The sheet has been submitted"}});
  routes.push_back(std::move(del));

  // --- GET /api/evaluations/{sheet_id} ----------------------------------------------------
  auto get =
      route("GET", "/api/evaluations/{sheet_id}", "Evaluations", "An evaluation sheet",
            "{sheet, company, template (with items), scores, version}. The evaluator who owns the "
            "sheet, or a secretary or admin; for anyone else it does not exist (404).",
            {}, [&](Request&, RequestContext& ctx) -> asio::awaitable<Response> {
              const std::string id(ctx.param("sheet_id"));
              const auto actor = actor_of(ctx);
              auto r = co_await workers.run([&] { return domain::get_evaluation(db, actor, id); });
              co_return answer(std::move(r));
            });
  id_param(get);
  get.responses.push_back(
      {200, "The sheet and what it is scored on", "application/json",
       schema(std::string(
                  R"({"type":"object","required":["sheet","company","template","scores","version"],
         "properties":{"sheet":)") +
              kSheetSchema + R"(,"company":{"type":["object","null"]},
         "template":{"type":["object","null"]},"scores":)" +
              kScoresSchema + R"(,"version":{"type":"integer"}}})"),
       schema(
           std::string(R"({"sheet":)") + kSheetExample +
           R"J(,"company":{"id":"a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d","name":"한국 평가 주식회사"},
         "template":{"id":"0b9f8c1e-4a52-4a8e-9d1f-2f3c4d5e6f70","name":"2026 창업 지원 평가표",
         "items":[{"id":"3d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b0a","title":"시장성","max_score":10}]},
         "scores":[],"version":1})J")});
  errors(get, {{404, "No such sheet (or not yours)"}});
  routes.push_back(std::move(get));

  // --- PUT /api/evaluations/{sheet_id} ----------------------------------------------------
  auto put = route(
      "PUT", "/api/evaluations/{sheet_id}", "Evaluations", "Save a draft",
      "The owner evaluator saves scores: {version, scores: [{item_id, score?, opinion?}], "
      "opinion?}. `scores` replace the sheet's saved scores; each score lies within its item's "
      "[min_score, max_score]; item ids are the sheet's template's; opinions are at most 4,000 "
      "characters. The sheet-level `opinion` is unchanged when absent and cleared by null. "
      "`version` must be the current one (409 with it in the message otherwise); the answer is "
      "the sheet with version + 1 and its scores. A submitted sheet is read-only (422).",
      {http::Role::kEvaluator},
      [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
        const std::string id(ctx.param("sheet_id"));
        auto parsed = body_object(req, false);
        if (!parsed) co_return Response::from_error(std::move(parsed).error());
        const json::object& o = *parsed;
        http::Fields f(o);
        domain::DraftInput in;
        in.version = required_version(f, o);
        if (!f.has("scores") || o.at("scores").is_null()) {
          f.fail("scores", "Field required", "value_error.missing");
        } else if (const auto* scores = f.optional_array("scores", domain::kMaxTemplateItems)) {
          in.scores.reserve(scores->size());
          for (std::size_t i = 0; i < scores->size(); ++i) {
            const std::string at = "scores[" + std::to_string(i) + "]";
            if (!(*scores)[i].is_object()) {
              f.fail(at, "Must be an object", "type_error.dict");
              continue;
            }
            http::Fields g((*scores)[i].as_object());
            domain::ScoreInput s;
            s.item_id = required_id(g, "item_id");
            // The item's own range is checked against the template.
            s.score = g.optional_number("score", -1e9, 1e9);
            s.opinion = g.optional_string("opinion", domain::kMaxOpinion);
            g.reject_unknown({"item_id", "score", "opinion"});
            for (const auto& e : g.errors()) f.fail(at + "." + e.field, e.message, e.code);
            in.scores.push_back(std::move(s));
          }
        }
        if (f.has("opinion")) in.opinion = f.optional_string("opinion", domain::kMaxOpinion);
        f.reject_unknown({"version", "scores", "opinion"});
        if (!f.ok()) co_return Response::from_error(f.error());
        const auto actor = actor_of(ctx);
        auto r = co_await workers.run([&] { return domain::save_draft(db, clock, actor, id, in); });
        co_return answer(std::move(r));
      });
  id_param(put);
  put.request_body = http::BodyDoc{
      "application/json",
      schema(R"({"type":"object","required":["version","scores"],"additionalProperties":false,
        "properties":{"version":{"type":"integer","minimum":1},
        "scores":{"type":"array","maxItems":100,"items":{"type":"object","required":["item_id"],
          "additionalProperties":false,"properties":{"item_id":{"type":"string","format":"uuid"},
          "score":{"type":["number","null"]},
          "opinion":{"type":["string","null"],"maxLength":4000}}}},
        "opinion":{"type":["string","null"],"maxLength":4000}}})"),
      schema(R"({"version":1,"scores":[{"item_id":"5d0e7a34-1c2b-4d3e-8f90-a1b2c3d4e5f6",
        "score":27,"opinion":"시장성이 뛰어남"}],"opinion":"전반적으로 우수"})")};
  put.responses.push_back({200, "The sheet with version + 1 and its scores", "application/json",
                           schema(sheet_with_scores_schema()),
                           schema(sheet_with_scores_example("in_progress", 2))});
  errors(put, {{400, "Validation failed (scores[i].field: range, unknown item, duplicates)"},
               {403, "Not an evaluator"},
               {404, "No such sheet (or not yours)"},
               {409, "Stale version"},
               {422, "Submitted (read-only), or the template is being revised"}});
  routes.push_back(std::move(put));

  // --- POST /api/evaluations/{sheet_id}/submit --------------------------------------------
  auto submit = route(
      "POST", "/api/evaluations/{sheet_id}/submit", "Evaluations", "Submit a sheet",
      "{version}. Every required item must be scored (422 naming them) and, when the sheet has "
      "a deadline, now must be before it (422). Computes total_score (sum of the scores) and "
      "weighted_score (sum(score/max_score*weight)/sum(weight)*100 over the scored items); the "
      "sheet becomes submitted and read-only.",
      {http::Role::kEvaluator},
      [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
        const std::string id(ctx.param("sheet_id"));
        auto parsed = body_object(req, false);
        if (!parsed) co_return Response::from_error(std::move(parsed).error());
        const json::object& o = *parsed;
        http::Fields f(o);
        const auto version = required_version(f, o);
        f.reject_unknown({"version"});
        if (!f.ok()) co_return Response::from_error(f.error());
        const auto actor = actor_of(ctx);
        auto r = co_await workers.run(
            [&] { return domain::submit_sheet(db, clock, actor, id, version); });
        co_return answer(std::move(r));
      });
  id_param(submit);
  submit.request_body =
      http::BodyDoc{"application/json",
                    schema(R"({"type":"object","required":["version"],"additionalProperties":false,
        "properties":{"version":{"type":"integer","minimum":1}}})"),
                    schema(R"({"version":3})")};
  submit.responses.push_back({200, "The submitted sheet", "application/json",
                              schema(sheet_with_scores_schema()),
                              schema(sheet_with_scores_example("submitted", 3))});
  errors(submit, {{400, "Validation failed"},
                  {403, "Not an evaluator"},
                  {404, "No such sheet (or not yours)"},
                  {409, "Stale version"},
                  {422, "Required items not scored, deadline passed, or already submitted"}});
  routes.push_back(std::move(submit));

  // --- POST /api/evaluations/{sheet_id}/reopen --------------------------------------------
  auto reopen =
      route("POST", "/api/evaluations/{sheet_id}/reopen", "Evaluations", "Reopen a submitted sheet",
            "submitted -> in_progress, version + 1; the computed scores are cleared until the next "
            "submission. Body optional: {version?, reason?}. Recorded as the security event "
            "evaluation_reopened (with the reason).",
            kStaff, [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
              const std::string id(ctx.param("sheet_id"));
              auto parsed = body_object(req, true);
              if (!parsed) co_return Response::from_error(std::move(parsed).error());
              const json::object& o = *parsed;
              http::Fields f(o);
              const auto version = f.optional_integer("version", 1, kMaxVersion);
              const auto reason = f.optional_string("reason", domain::kMaxReopenReason);
              f.reject_unknown({"version", "reason"});
              if (!f.ok()) co_return Response::from_error(f.error());
              const auto actor = actor_of(ctx);
              const auto audit = audit_of(req, ctx);
              auto r = co_await workers.run([&] {
                return domain::reopen_sheet(db, clock, actor, id, version, reason, audit);
              });
              co_return answer(std::move(r));
            });
  id_param(reopen);
  reopen.request_body = http::BodyDoc{
      "application/json", schema(R"({"type":"object","additionalProperties":false,"properties":{
        "version":{"type":"integer","minimum":1},"reason":{"type":"string","maxLength":1000}}})"),
      schema(R"({"reason":"점수 입력 오류 정정 요청"})")};
  reopen.request_body->required = false;
  reopen.responses.push_back({200, "The reopened sheet", "application/json",
                              schema(sheet_with_scores_schema()),
                              schema(sheet_with_scores_example("in_progress", 4))});
  errors(reopen, {{400, "Validation failed"},
                  {403, "Not a secretary or admin"},
                  {404, "No such sheet"},
                  {409, "Stale version"},
                  {422, "Not submitted"}});
  routes.push_back(std::move(reopen));

  // --- POST /api/evaluations/{sheet_id}/review --------------------------------------------
  auto review =
      route("POST", "/api/evaluations/{sheet_id}/review", "Evaluations", "Mark a sheet reviewed",
            "submitted -> reviewed (reviewed_at set, version + 1). Body optional: {version?}.",
            kStaff, [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
              const std::string id(ctx.param("sheet_id"));
              auto parsed = body_object(req, true);
              if (!parsed) co_return Response::from_error(std::move(parsed).error());
              const json::object& o = *parsed;
              http::Fields f(o);
              const auto version = f.optional_integer("version", 1, kMaxVersion);
              f.reject_unknown({"version"});
              if (!f.ok()) co_return Response::from_error(f.error());
              const auto actor = actor_of(ctx);
              auto r = co_await workers.run(
                  [&] { return domain::review_sheet(db, clock, actor, id, version); });
              co_return answer(std::move(r));
            });
  id_param(review);
  review.request_body = http::BodyDoc{
      "application/json", schema(R"({"type":"object","additionalProperties":false,"properties":{
        "version":{"type":"integer","minimum":1}}})"),
      schema(R"({"version":4})")};
  review.request_body->required = false;
  review.responses.push_back({200, "The reviewed sheet", "application/json",
                              schema(sheet_with_scores_schema()),
                              schema(sheet_with_scores_example("reviewed", 4))});
  errors(review, {{400, "Validation failed"},
                  {403, "Not a secretary or admin"},
                  {404, "No such sheet"},
                  {409, "Stale version"},
                  {422, "Not submitted"}});
  routes.push_back(std::move(review));

  return routes;
}

}  // namespace evald::api
