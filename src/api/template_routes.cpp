// /api/templates: evaluation templates (docs/DOMAIN.md, "Templates"). Secretaries and admins;
// evaluators read a template through their sheets (GET /api/evaluations/{sheet_id}).

#include <boost/json.hpp>

#include "api/domain_kit.hpp"
#include "api/listing.hpp"
#include "api/routes.hpp"
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

constexpr std::size_t kMaxSearch = 100;

const char* const kItemSchema = R"({"type":"object",
  "required":["id","name","min_score","max_score","weight","is_required","bonus","order"],
  "properties":{"id":{"type":"string","format":"uuid"},"name":{"type":"string"},
  "description":{"type":["string","null"]},"min_score":{"type":"number"},
  "max_score":{"type":"number"},"weight":{"type":"number"},"is_required":{"type":"boolean"},
  "category":{"type":["string","null"]},"bonus":{"type":"boolean"},
  "order":{"type":"integer","description":"1-based position in the list"}}})";

std::string template_schema() {
  return std::string(R"({"type":"object",
  "required":["id","name","status","version","items","created_at","updated_at"],
  "properties":{"id":{"type":"string","format":"uuid"},"name":{"type":"string"},
  "description":{"type":["string","null"]},"project_id":{"type":["string","null"]},
  "status":{"type":"string","enum":["draft","active","archived"]},"version":{"type":"integer"},
  "parent_id":{"type":["string","null"]},"items":{"type":"array","items":)") +
         kItemSchema + R"(},
  "created_by":{"type":["string","null"]},"created_at":{"type":"string"},
  "updated_at":{"type":"string"}}})";
}

const char* const kItemInputSchema =
    R"({"type":"object","required":["name","min_score","max_score"],
  "additionalProperties":false,"properties":{
  "name":{"type":"string","minLength":1,"maxLength":200},
  "description":{"type":["string","null"],"maxLength":2000},
  "min_score":{"type":"number","minimum":0,"maximum":1000},
  "max_score":{"type":"number","minimum":0,"maximum":1000,"description":"greater than min_score"},
  "weight":{"type":"number","minimum":0,"maximum":100,"default":1},
  "is_required":{"type":"boolean","default":true},
  "category":{"type":["string","null"],"maxLength":100},
  "bonus":{"type":"boolean","default":false}}})";

const char* const kTemplateExample = R"({"id":"0b9f8c1e-4a52-4a8e-9d1f-2f3c4d5e6f70",
  "name":"2026 창업 지원 평가표","description":"서면 평가","project_id":null,"status":"draft",
  "version":1,"parent_id":null,"items":[{"id":"5d0e7a34-1c2b-4d3e-8f90-a1b2c3d4e5f6",
  "name":"사업성","description":null,"min_score":0,"max_score":30,"weight":2,"is_required":true,
  "category":"business","bonus":false,"order":1}],
  "created_by":"3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
  "created_at":"2026-03-01T09:00:00.000Z","updated_at":"2026-03-01T09:00:00.000Z"})";

const char* const kCreateExample = R"({"name":"2026 창업 지원 평가표","description":"서면 평가",
  "items":[{"name":"사업성","min_score":0,"max_score":30,"weight":2,"category":"business"},
  {"name":"기술성","min_score":0,"max_score":20},
  {"name":"가점","min_score":0,"max_score":5,"is_required":false,"bonus":true}]})";

// The template example in another status.
std::string example_in(const char* example, const char* status) {
  auto v = json::parse(example).as_object();
  v["status"] = status;
  return json::serialize(v);
}

// The example copied: a new draft, version 2, whose parent is the example.
std::string copy_example() {
  auto v = json::parse(kTemplateExample).as_object();
  v["parent_id"] = v["id"];
  v["id"] = "e4d3c2b1-a09f-4e8d-9c7b-6a5f4e3d2c1b";
  v["version"] = 2;
  return json::serialize(v);
}

http::RouteSpec route(std::string method, std::string path, std::string summary,
                      std::string description, http::Handler handler) {
  return api::route(std::move(method), std::move(path), "Templates", std::move(summary),
                    std::move(description), kStaff, std::move(handler));
}

void id_param(http::RouteSpec& r) { api::id_param(r, "template_id", "the template's id"); }

// A nullable id field: absent (outer nullopt), null (inner nullopt), or a UUID-shaped string.
std::optional<std::optional<std::string>> nullable_id(http::Fields& f, const json::object& o,
                                                      std::string_view name) {
  if (!f.has(name)) return std::nullopt;
  if (o.at(name).is_null()) return std::optional<std::string>{};
  auto s = f.optional_string(name, 64);
  if (s && o.at(name).is_string() && !domain::is_uuid(*s)) {
    f.fail(std::string(name), "Must be a UUID", "value_error.uuid");
  }
  return std::optional<std::string>(s.value_or(""));
}

std::optional<std::string> nullable_text(http::Fields& f, std::string_view name, std::size_t max) {
  return f.optional_string(name, max);
}

// items: 1 to 100 entries; each problem is reported as items[i].field.
std::vector<domain::TemplateItemInput> read_items(http::Fields& f, const json::object& o) {
  std::vector<domain::TemplateItemInput> items;
  if (!f.has("items") || o.at("items").is_null()) {
    f.fail("items", "Field required", "value_error.missing");
    return items;
  }
  const json::array* arr = f.optional_array("items", domain::kMaxTemplateItems);
  if (!arr) return items;
  if (arr->empty()) {
    f.fail("items", "At least one item", "value_error.list.min_items");
    return items;
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const std::string prefix = "items[" + std::to_string(i) + "]";
    const auto& v = (*arr)[i];
    if (!v.is_object()) {
      f.fail(prefix, "Must be an object", "type_error.dict");
      continue;
    }
    http::Fields g(v.as_object());
    domain::TemplateItemInput it;
    it.name = g.required_string("name", 1, domain::kMaxItemName);
    it.description = nullable_text(g, "description", domain::kMaxDescription);
    it.min_score = g.required_number("min_score", 0, domain::kMaxItemScore);
    it.max_score = g.required_number("max_score", 0, domain::kMaxItemScore);
    it.weight = g.optional_number("weight", 0, domain::kMaxItemWeight).value_or(1);
    it.is_required = g.optional_bool("is_required").value_or(true);
    it.category = nullable_text(g, "category", domain::kMaxCategory);
    it.bonus = g.optional_bool("bonus").value_or(false);
    g.reject_unknown({"name", "description", "min_score", "max_score", "weight", "is_required",
                      "category", "bonus"});
    if (g.ok() && !(it.min_score < it.max_score)) {
      g.fail("max_score", "Must be greater than min_score", "value_error.max_score");
    }
    for (const auto& e : g.errors()) f.fail(prefix + "." + e.field, e.message, e.code);
    items.push_back(std::move(it));
  }
  return items;
}

}  // namespace

std::vector<http::RouteSpec> template_routes(AppContext& app) {
  auto& db = *app.db;
  auto& workers = *app.workers;
  const Clock& clock = app.clock;
  std::vector<http::RouteSpec> routes;

  // --- list ---------------------------------------------------------------------------------
  auto list = route(
      "GET", "/api/templates", "List templates",
      "Newest first, paged with an opaque cursor. Filters: status, project_id (exact), search "
      "(name contains, case-insensitive). Each template comes with its items in order.",
      [&](Request& req, RequestContext&) -> asio::awaitable<Response> {
        Where where;
        std::vector<FieldError> problems;
        if (auto s = http::query_param(req.query, "status")) {
          if (*s != "draft" && *s != "active" && *s != "archived") {
            problems.push_back(
                {"status", "Must be one of: draft, active, archived", "value_error.enum", *s});
          } else {
            where.add("status =", *s);
          }
        }
        if (auto p = http::query_param(req.query, "project_id")) {
          if (!domain::is_uuid(*p)) {
            problems.push_back({"project_id", "Must be a UUID", "value_error.uuid", std::nullopt});
          } else {
            where.add("project_id =", *p);
          }
        }
        if (auto s = http::query_param(req.query, "search")) {
          const auto len = http::utf8_length(*s);
          if (!len || *len > kMaxSearch) {
            problems.push_back({"search", "At most 100 characters of UTF-8 text",
                                "value_error.search", std::nullopt});
          } else if (!s->empty()) {
            std::string pattern = "%";
            for (char c : *s) {
              if (c == '%' || c == '_' || c == '\\') pattern += '\\';
              pattern += c;
            }
            pattern += '%';
            where.add_raw("LOWER(name) LIKE LOWER(?) ESCAPE '\\'", {pattern});
          }
        }
        const Page page = read_page(req, where, problems);
        if (!problems.empty()) {
          co_return Response::from_error(ApiError::validation("Invalid query", problems));
        }
        const std::string sql = std::string("SELECT ") + domain::kTemplateColumns +
                                " FROM templates" + where.sql() + newest_first(page);
        std::optional<json::object> body;
        auto st = co_await workers.run([&] {
          return db.read([&](db::Tx& tx) -> Status {
            auto rows = tx.query(sql, where.params());
            if (!rows) return std::move(rows).error();
            auto items = domain::templates_json(tx, *rows, static_cast<std::size_t>(page.limit));
            if (!items) return std::move(items).error();
            body = json::object{{"items", std::move(*items)},
                                {"next_cursor", next_cursor(*rows, page)}};
            return Ok{};
          });
        });
        if (!st) co_return Response::from_error(st.error());
        co_return ok_json(*body);
      });
  for (auto [name, desc, sch] :
       std::initializer_list<std::tuple<const char*, const char*, const char*>>{
           {"status", "draft, active or archived",
            R"({"type":"string","enum":["draft","active","archived"]})"},
           {"project_id", "only the templates of this project",
            R"({"type":"string","format":"uuid"})"},
           {"search", "name contains (case-insensitive, at most 100 characters)",
            R"({"type":"string","maxLength":100})"}}) {
    list.params.push_back({name, "query", false, desc, schema(sch)});
  }
  list_params(list);
  list.responses.push_back({200, "A page of templates", "application/json",
                            schema(list_schema(template_schema())),
                            schema(list_example(kTemplateExample))});
  errors(list, {{400, "A filter, limit or cursor is invalid"}, {403, "Not a secretary or admin"}});
  routes.push_back(std::move(list));

  // --- create -------------------------------------------------------------------------------
  auto create = route(
      "POST", "/api/templates", "Create a template (a draft)",
      "A new draft with version 1. `items` (1 to 100) are kept in the order given; each needs "
      "min_score < max_score within 0 to 1,000 and a weight from 0 to 100 (default 1). A "
      "project_id, when given, must name a project.",
      [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
        auto parsed = body_object(req, false);
        if (!parsed) co_return Response::from_error(std::move(parsed).error());
        const json::object& o = *parsed;
        http::Fields f(o);
        domain::TemplateInput in;
        in.name = f.required_string("name", 1, domain::kMaxTemplateName);
        in.description = nullable_text(f, "description", domain::kMaxDescription);
        if (auto p = nullable_id(f, o, "project_id")) in.project_id = *p;
        in.items = read_items(f, o);
        f.reject_unknown({"name", "description", "project_id", "items"});
        if (!f.ok()) co_return Response::from_error(f.error());
        const auto actor = actor_of(ctx);
        auto r =
            co_await workers.run([&] { return domain::create_template(db, clock, actor, in); });
        co_return answer(std::move(r), 201);
      });
  create.request_body = http::BodyDoc{
      "application/json",
      schema(
          std::string(R"({"type":"object","required":["name","items"],"additionalProperties":false,
        "properties":{"name":{"type":"string","minLength":1,"maxLength":200},
        "description":{"type":["string","null"],"maxLength":2000},
        "project_id":{"type":["string","null"],"format":"uuid"},
        "items":{"type":"array","minItems":1,"maxItems":100,"items":)") +
          kItemInputSchema + "}}}"),
      schema(kCreateExample)};
  create.responses.push_back({201, "The new draft", "application/json", schema(template_schema()),
                              schema(kTemplateExample)});
  errors(create, {{400, "Validation failed (every problem in details, items as items[i].field)"},
                  {403, "Not a secretary or admin"},
                  {413, "Body larger than MAX_BODY_BYTES"},
                  {422, "project_id names no project"}});
  routes.push_back(std::move(create));

  // --- get ----------------------------------------------------------------------------------
  auto get = route("GET", "/api/templates/{template_id}", "A template with its items",
                   "Items in their order.",
                   [&](Request&, RequestContext& ctx) -> asio::awaitable<Response> {
                     const std::string id(ctx.param("template_id"));
                     auto r = co_await workers.run([&] { return domain::get_template(db, id); });
                     co_return answer(std::move(r));
                   });
  id_param(get);
  get.responses.push_back({200, "The template", "application/json", schema(template_schema()),
                           schema(kTemplateExample)});
  errors(get, {{403, "Not a secretary or admin"}, {404, "No such template"}});
  routes.push_back(std::move(get));

  // --- patch --------------------------------------------------------------------------------
  auto patch = route(
      "PATCH", "/api/templates/{template_id}", "Change a template",
      "Only the fields sent change; null clears description or project_id. `items` replace the "
      "whole list and are accepted only on a draft. An active template that no submitted sheet "
      "uses goes back to draft with {\"status\": \"draft\"} (items may come in the same request; "
      "drafts saved against removed items lose those scores). Once a submitted (or reopened) "
      "sheet uses a template, or once it is archived, every change is 422: copy it instead.",
      [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
        const std::string id(ctx.param("template_id"));
        auto parsed = body_object(req, false);
        if (!parsed) co_return Response::from_error(std::move(parsed).error());
        const json::object& o = *parsed;
        http::Fields f(o);
        domain::TemplatePatch p;
        if (f.has("name")) p.name = f.required_string("name", 1, domain::kMaxTemplateName);
        if (f.has("description")) {
          p.description = nullable_text(f, "description", domain::kMaxDescription);
        }
        p.project_id = nullable_id(f, o, "project_id");
        if (f.has("items")) p.items = read_items(f, o);
        if (f.has("status")) {
          if (o.at("status").is_null()) {
            f.fail("status", "Only \"draft\" may be set here", "value_error.enum");
          } else if (auto s = f.optional_enum("status", {"draft"})) {
            p.back_to_draft = true;
          }
        }
        f.reject_unknown({"name", "description", "project_id", "items", "status"});
        if (!f.ok()) co_return Response::from_error(f.error());
        auto r = co_await workers.run([&] { return domain::update_template(db, clock, id, p); });
        co_return answer(std::move(r));
      });
  id_param(patch);
  patch.request_body = http::BodyDoc{
      "application/json",
      schema(std::string(R"({"type":"object","additionalProperties":false,"properties":{
        "name":{"type":"string","minLength":1,"maxLength":200},
        "description":{"type":["string","null"],"maxLength":2000},
        "project_id":{"type":["string","null"],"format":"uuid"},
        "status":{"type":"string","enum":["draft"],
          "description":"back to draft: an active, unused template"},
        "items":{"type":"array","minItems":1,"maxItems":100,"items":)") +
             kItemInputSchema + "}}}"),
      schema(R"({"status":"draft","items":[{"name":"사업성","min_score":0,"max_score":40}]})")};
  patch.responses.push_back({200, "The template after the change", "application/json",
                             schema(template_schema()), schema(kTemplateExample)});
  errors(patch,
         {{400, "Validation failed"},
          {403, "Not a secretary or admin"},
          {404, "No such template"},
          {422, "Archived, used by a submitted sheet, or items sent for an active template"}});
  routes.push_back(std::move(patch));

  // --- delete -------------------------------------------------------------------------------
  auto del = route("DELETE", "/api/templates/{template_id}", "Delete an unused template",
                   "Only a template that no evaluation sheet uses; otherwise 422 (archive it).",
                   [&](Request&, RequestContext& ctx) -> asio::awaitable<Response> {
                     const std::string id(ctx.param("template_id"));
                     auto st =
                         co_await workers.run([&] { return domain::delete_template(db, id); });
                     if (!st) co_return Response::from_error(st.error());
                     co_return no_content();
                   });
  id_param(del);
  del.responses.push_back({204, "Deleted", "", {}, {}});
  errors(del, {{403, "Not a secretary or admin"},
               {404, "No such template"},
               {422, "Sheets use the template"}});
  routes.push_back(std::move(del));

  // --- activate, archive --------------------------------------------------------------------
  auto activate = route(
      "POST", "/api/templates/{template_id}/activate", "Activate a draft",
      "draft -> active; it needs at least one item. Only an active template can be assigned.",
      [&](Request&, RequestContext& ctx) -> asio::awaitable<Response> {
        const std::string id(ctx.param("template_id"));
        auto r = co_await workers.run([&] { return domain::activate_template(db, clock, id); });
        co_return answer(std::move(r));
      });
  id_param(activate);
  activate.responses.push_back({200, "The active template", "application/json",
                                schema(template_schema()),
                                schema(example_in(kTemplateExample, "active"))});
  errors(activate, {{403, "Not a secretary or admin"},
                    {404, "No such template"},
                    {422, "Not a draft, or no item"}});
  routes.push_back(std::move(activate));

  auto archive = route(
      "POST", "/api/templates/{template_id}/archive", "Archive a template",
      "draft or active -> archived: no new assignments; sheets already assigned go on.",
      [&](Request&, RequestContext& ctx) -> asio::awaitable<Response> {
        const std::string id(ctx.param("template_id"));
        auto r = co_await workers.run([&] { return domain::archive_template(db, clock, id); });
        co_return answer(std::move(r));
      });
  id_param(archive);
  archive.responses.push_back({200, "The archived template", "application/json",
                               schema(template_schema()),
                               schema(example_in(kTemplateExample, "archived"))});
  errors(archive,
         {{403, "Not a secretary or admin"}, {404, "No such template"}, {422, "Archived already"}});
  routes.push_back(std::move(archive));

  // --- copy ---------------------------------------------------------------------------------
  auto copy = route(
      "POST", "/api/templates/{template_id}/copy", "Copy a template into a new draft",
      "A new draft with version + 1, parent_id = the source, the same items (new ids). The body "
      "is optional: {name?, project_id?} override the source's.",
      [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
        const std::string id(ctx.param("template_id"));
        auto parsed = body_object(req, true);
        if (!parsed) co_return Response::from_error(std::move(parsed).error());
        const json::object& o = *parsed;
        http::Fields f(o);
        domain::TemplateCopyInput in;
        if (f.has("name")) in.name = f.required_string("name", 1, domain::kMaxTemplateName);
        in.project_id = nullable_id(f, o, "project_id");
        f.reject_unknown({"name", "project_id"});
        if (!f.ok()) co_return Response::from_error(f.error());
        const auto actor = actor_of(ctx);
        auto r =
            co_await workers.run([&] { return domain::copy_template(db, clock, actor, id, in); });
        co_return answer(std::move(r), 201);
      });
  id_param(copy);
  copy.request_body = http::BodyDoc{
      "application/json", schema(R"({"type":"object","additionalProperties":false,"properties":{
        "name":{"type":"string","minLength":1,"maxLength":200},
        "project_id":{"type":["string","null"],"format":"uuid"}}})"),
      schema(R"({"name":"2026 창업 지원 평가표 개정판"})")};
  copy.request_body->required = false;
  copy.responses.push_back({201, "The new draft", "application/json", schema(template_schema()),
                            schema(copy_example())});
  errors(copy, {{400, "Validation failed"},
                {403, "Not a secretary or admin"},
                {404, "No such template"},
                {422, "project_id names no project"}});
  routes.push_back(std::move(copy));

  return routes;
}

}  // namespace evald::api
