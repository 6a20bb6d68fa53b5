// /api/projects/{id}/companies, /api/companies and the batch import of companies from JSON or
// CSV (docs/DOMAIN.md, "Companies"). The handlers read and check the input, decide who may see
// what, and call the domain services on the worker pool.

#include <boost/json.hpp>

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

namespace json = boost::json;
namespace asio = boost::asio;
namespace dm = evald::domain;
using namespace fields;
using http::Request;
using http::RequestContext;
using http::Response;

constexpr std::size_t kMaxMultipartParts = 8;
constexpr std::size_t kMaxCsvFieldBytes = 8 * 1024;

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

// --- reading input ------------------------------------------------------------------------------

std::string read_registration_number(http::Fields& f) {
  const auto before = f.errors().size();
  auto s = f.required_string("registration_number", 1, 32);
  if (f.errors().size() != before) return s;
  const auto check = dm::check_registration_number(s);
  if (!check.ok()) {
    f.fail("registration_number", check.message, check.code);
    return s;
  }
  return check.value;
}

std::optional<std::string> read_email(http::Fields& f) {
  auto s = read_string(f, "contact_email", dm::kContactEmailMax);
  if (!s) return s;
  for (auto& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!http::is_valid_email(*s))
    f.fail("contact_email", "Invalid email format", "value_error.email");
  return s;
}

std::optional<std::string> read_phone(http::Fields& f) {
  auto s = read_string(f, "contact_phone", dm::kContactPhoneMax);
  if (!s) return s;
  const auto digits =
      std::count_if(s->begin(), s->end(), [](char c) { return c >= '0' && c <= '9'; });
  if (s->find_first_not_of("0123456789+-(). ") != std::string::npos || digits < 2) {
    f.fail("contact_phone", "Must be a phone number: digits, spaces and + - ( ) .",
           "value_error.phone");
  }
  return s;
}

// PATCH of an optional field: absent (outer nullopt), null (inner nullopt: clear), or a value.
const std::initializer_list<std::string_view> kCompanyKeys = {
    "name", "registration_number", "representative", "address", "contact_email", "contact_phone"};

dm::CompanyFields read_company(http::Fields& f) {
  f.reject_unknown(kCompanyKeys);
  dm::CompanyFields c;
  c.name = read_name(f, "name", dm::kCompanyNameMax);
  c.registration_number = read_registration_number(f);
  c.representative = read_text(f, "representative", dm::kRepresentativeMax);
  c.address = read_text(f, "address", dm::kAddressMax);
  c.contact_email = read_email(f);
  c.contact_phone = read_phone(f);
  return c;
}

dm::CompanyPatch read_company_patch(const json::object& o, http::Fields& f) {
  f.reject_unknown(kCompanyKeys);
  dm::CompanyPatch c;
  c.name = required_change(o, f, "name", [&] { return read_name(f, "name", dm::kCompanyNameMax); });
  c.registration_number =
      required_change(o, f, "registration_number", [&] { return read_registration_number(f); });
  c.representative = change(o, "representative",
                            [&] { return read_text(f, "representative", dm::kRepresentativeMax); });
  c.address = change(o, "address", [&] { return read_text(f, "address", dm::kAddressMax); });
  c.contact_email = change(o, "contact_email", [&] { return read_email(f); });
  c.contact_phone = change(o, "contact_phone", [&] { return read_phone(f); });
  return c;
}

void add_prefixed(std::vector<FieldError>& out, const std::vector<FieldError>& errors,
                  const std::string& prefix) {
  for (auto e : errors) {
    e.field = prefix + e.field;
    out.push_back(std::move(e));
  }
}

// `search`: at most kSearchMax characters of UTF-8; empty means no filter.
// A name from the client for a field of an error: valid UTF-8, at most 64 bytes.
std::string safe_label(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && out.size() < 64;) {
    std::size_t n = 1;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0xf0)
      n = 4;
    else if (c >= 0xe0)
      n = 3;
    else if (c >= 0xc0)
      n = 2;
    const auto piece = s.substr(i, n);
    if (http::utf8_length(piece) && (c >= 0x20 || n > 1) && c != 0x7f) {
      out.append(piece);
    } else {
      out += '?';
    }
    i += n;
  }
  return out;
}

std::string lower_trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t");
  std::string out(s.substr(b, e - b + 1));
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

FieldError too_many_rows() {
  return {"file",
          "At most " + std::to_string(dm::kCompanyBatchMax) +
              " companies in one import (rows after the header)",
          "value_error.list.max_items", std::nullopt};
}

std::string row_label(std::size_t row) { return "row " + std::to_string(row); }

// The CSV import: a header row naming the columns (any order; name and registration_number
// required), then one company per row. Rows are numbered as a spreadsheet shows them (the
// header is row 1); blank rows are skipped.
void read_company_csv(std::string_view data, std::vector<dm::CompanyFields>& items,
                      std::vector<std::string>& labels, std::vector<FieldError>& problems) {
  // Blank rows do not count against the batch limit, but the reader's own limit keeps a body of
  // line breaks from becoming millions of records.
  dm::CsvLimits limits;
  limits.max_records = 2 * (dm::kCompanyBatchMax + 1);
  limits.max_fields = 64;
  limits.max_field_bytes = kMaxCsvFieldBytes;
  const auto csv = dm::read_csv(data, limits);
  if (csv.error) {
    if (csv.error->row > limits.max_records) {
      problems.push_back(too_many_rows());
    } else {
      problems.push_back({row_label(csv.error->row), csv.error->message, csv.error->code, {}});
    }
    return;
  }
  const auto& records = csv.records;
  auto header = std::find_if(records.begin(), records.end(), [](auto& r) { return !r.blank(); });
  if (header == records.end()) {
    problems.push_back({"file", "The file is empty: a header row is expected",
                        "value_error.csv.header", std::nullopt});
    return;
  }
  const std::string h = row_label(header->row) + ": ";
  const auto problems_before = problems.size();
  std::vector<std::string> columns;  // "" for a column without a name (left empty by some tools)
  for (const auto& cell : header->fields) {
    auto key = lower_trim(cell);
    const bool known = key.empty() || std::find(std::begin(dm::kCompanyFieldNames),
                                                std::end(dm::kCompanyFieldNames),
                                                key) != std::end(dm::kCompanyFieldNames);
    if (!known) {
      problems.push_back({h + safe_label(key), "Unknown column", "value_error.extra", {}});
    } else if (!key.empty() && std::find(columns.begin(), columns.end(), key) != columns.end()) {
      problems.push_back({h + key, "Column given twice", "value_error.csv.header", {}});
    }
    columns.push_back(std::move(key));
  }
  for (const char* required : {"name", "registration_number"}) {
    if (std::find(columns.begin(), columns.end(), required) == columns.end()) {
      problems.push_back({h + required, "Column required", "value_error.missing", {}});
    }
  }
  if (problems.size() != problems_before) return;
  const auto rows = std::count_if(header + 1, records.end(), [](auto& r) { return !r.blank(); });
  if (static_cast<std::size_t>(rows) > dm::kCompanyBatchMax) {
    problems.push_back(too_many_rows());
    return;
  }
  for (auto rec = header + 1; rec != records.end(); ++rec) {
    if (rec->blank()) continue;
    const std::string label = row_label(rec->row);
    if (rec->fields.size() > columns.size()) {
      problems.push_back({label,
                          "Has " + std::to_string(rec->fields.size()) +
                              " fields but the header names " + std::to_string(columns.size()),
                          "value_error.csv.fields", std::nullopt});
      continue;
    }
    json::object o;
    bool stray = false;
    for (std::size_t j = 0; j < rec->fields.size(); ++j) {
      if (rec->fields[j].empty()) continue;
      if (columns[j].empty()) {
        stray = true;
      } else {
        o[columns[j]] = rec->fields[j];
      }
    }
    if (stray) {
      problems.push_back({label, "A value in a column the header does not name",
                          "value_error.csv.fields", std::nullopt});
    }
    http::Fields f(o);
    items.push_back(read_company(f));
    labels.push_back(label + ": ");
    add_prefixed(problems, f.errors(), labels.back());
  }
  if (items.empty() && problems.size() == problems_before) {
    problems.push_back({"file", "No companies in the file (only a header row)",
                        "value_error.list.min_items", std::nullopt});
  }
}

void check_project_id(std::string_view field, const std::optional<std::string>& id,
                      std::vector<FieldError>& problems) {
  if (!id || id->empty()) {
    problems.push_back({std::string(field), "Field required", "value_error.missing", {}});
  } else if (!dm::is_uuid(*id)) {
    problems.push_back({std::string(field), "Must be a project id (UUID)", "value_error.uuid", {}});
  }
}

std::string media_type(const Request& req) {
  return lower_trim(req.headers.get("Content-Type")
                        .value_or("")
                        .substr(0, req.headers.get("Content-Type").value_or("").find(';')));
}

// A charset parameter other than UTF-8 is refused (the import reads UTF-8 only).
bool utf8_charset(const Request& req) {
  const auto ct = lower_trim(req.headers.get("Content-Type").value_or(""));
  const auto at = ct.find("charset=");
  if (at == std::string::npos) return true;
  auto cs = ct.substr(at + 8);
  cs = cs.substr(0, cs.find(';'));
  std::erase(cs, '"');
  return lower_trim(cs) == "utf-8" || lower_trim(cs) == "utf8";
}

struct BatchInput {
  std::optional<std::string> project_id;
  std::vector<dm::CompanyFields> items;
  std::vector<std::string> labels;
  std::vector<FieldError> problems;
};

void read_json_batch(const json::object& o, BatchInput& in) {
  http::Fields top(o);
  top.reject_unknown({"project_id", "companies"});
  if (!o.contains("companies") || o.at("companies").is_null()) {
    top.fail("companies", "Field required", "value_error.missing");
  }
  const json::array* list = top.optional_array("companies", dm::kCompanyBatchMax);
  if (list && list->empty()) {
    top.fail("companies", "At least one company", "value_error.list.min_items");
  }
  in.problems = top.errors();
  const auto* id = o.if_contains("project_id");
  if (id && !id->is_null() && !id->is_string()) {
    in.problems.push_back({"project_id", "Must be a string", "type_error.str", std::nullopt});
  } else {
    if (id && id->is_string()) in.project_id = std::string(id->as_string());
    check_project_id("project_id", in.project_id, in.problems);
  }
  if (!list) return;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string label = "companies[" + std::to_string(i) + "]";
    const auto& v = (*list)[i];
    if (!v.is_object()) {
      in.problems.push_back({label, "Must be an object", "type_error.object", std::nullopt});
      continue;
    }
    http::Fields f(v.as_object());
    in.items.push_back(read_company(f));
    in.labels.push_back(label + ".");
    add_prefixed(in.problems, f.errors(), in.labels.back());
  }
}

void read_multipart_batch(const std::vector<http::FormPart>& parts, BatchInput& in) {
  const http::FormPart* file = nullptr;
  std::size_t project_parts = 0;
  for (const auto& p : parts) {
    if (p.name == "project_id") {
      ++project_parts;
      in.project_id = lower_trim(p.data);
    } else if (p.name == "file") {
      if (file) {
        in.problems.push_back({"file", "Send one file", "value_error.multipart", {}});
      }
      file = &p;
    } else {
      in.problems.push_back({safe_label(p.name), "Unknown field", "value_error.extra", {}});
    }
  }
  if (project_parts > 1) {
    in.problems.push_back({"project_id", "Given more than once", "value_error.multipart", {}});
  } else {
    check_project_id("project_id", in.project_id, in.problems);
  }
  if (!file) {
    in.problems.push_back({"file", "Field required", "value_error.missing", {}});
    return;
  }
  read_company_csv(file->data, in.items, in.labels, in.problems);
}

}  // namespace

std::vector<http::RouteSpec> company_routes(AppContext& app) {
  auto& db = *app.db;
  auto& workers = *app.workers;
  auto& clock = app.clock;
  std::vector<http::RouteSpec> routes;
  const auto now = [&clock] { return format_iso8601(clock.now(), true); };

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
        const auto at = now();
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
        const auto at = now();
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
        const auto at = now();
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
