// GET /api/projects/{id}/results and /api/projects/{id}/export (secretary, admin):
// docs/DOMAIN.md, Results and exports.

#include <boost/json.hpp>
#include <filesystem>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "api/routes.hpp"
#include "domain/exports.hpp"
#include "domain/files.hpp"
#include "domain/results.hpp"
#include "http/query.hpp"

namespace evald::api {
namespace {

namespace json = boost::json;
namespace asio = boost::asio;
using http::Request;
using http::RequestContext;
using http::Response;

const char* const kResultsSchema = R"J({"type":"object",
  "required":["project_id","project_name","companies","evaluators","assigned","submitted","completion"],
  "properties":{"project_id":{"type":"string","format":"uuid"},"project_name":{"type":"string"},
  "companies":{"type":"array","description":"ranked companies best first, then the unranked by name",
   "items":{"type":"object","required":["company_id","name","registration_number","submitted",
    "assigned","mean_total","mean_weighted","stddev_weighted","rank"],
   "properties":{"company_id":{"type":"string","format":"uuid"},"name":{"type":"string"},
    "registration_number":{"type":"string"},
    "submitted":{"type":"integer","description":"submitted or reviewed sheets"},
    "assigned":{"type":"integer","description":"sheets of any status"},
    "mean_total":{"type":["number","null"],"description":"mean total_score of the submitted sheets"},
    "mean_weighted":{"type":["number","null"],"description":"mean weighted_score, 0 to 100"},
    "stddev_weighted":{"type":["number","null"],
     "description":"population standard deviation of the submitted sheets' weighted_score"},
    "rank":{"type":["integer","null"],
     "description":"by mean_weighted, ties share a rank: 1, 1, 3; null without a submitted sheet"}}}},
  "evaluators":{"type":"array","items":{"type":"object",
   "required":["evaluator_id","user_name","assigned","submitted","completion"],
   "properties":{"evaluator_id":{"type":"string","format":"uuid"},"user_name":{"type":"string"},
    "assigned":{"type":"integer"},"submitted":{"type":"integer"},
    "completion":{"type":"number","minimum":0,"maximum":1}}}},
  "assigned":{"type":"integer"},"submitted":{"type":"integer"},
  "completion":{"type":"number","minimum":0,"maximum":1,
   "description":"submitted / assigned over every sheet of the project; 0 when none"}}})J";

const char* const kResultsExample = R"J({"project_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7",
  "project_name":"2026 중소기업 지원사업","companies":[
  {"company_id":"1b4e28ba-2fa1-11d2-883f-0016d3cca427","name":"한국 평가 주식회사",
   "registration_number":"220-81-62517","submitted":2,"assigned":2,"mean_total":85.0,
   "mean_weighted":85.0,"stddev_weighted":5.0,"rank":1},
  {"company_id":"6fa459ea-ee8a-3ca4-894e-db77e160355e","name":"새싹 벤처","registration_number":"124-81-00998",
   "submitted":0,"assigned":2,"mean_total":null,"mean_weighted":null,"stddev_weighted":null,"rank":null}],
  "evaluators":[{"evaluator_id":"0b0f5a8e-5c55-4a8e-9d7c-2f1f4d1c9a10","user_name":"김평가",
   "assigned":2,"submitted":1,"completion":0.5}],
  "assigned":4,"submitted":2,"completion":0.5})J";

// The OpenAPI builder gives every 4xx and 5xx the shared Error schema.
http::ResponseDoc error_doc(unsigned status, std::string description) {
  return {status, std::move(description), "application/json", {}, {}};
}

// Rendered results per project. An entry is served while no table it read has been written
// through this instance since it was computed (the query cache's per-table generations) and for
// at most the cache's TTL (other instances' writes): a project's results are read far more
// often than its sheets change, and computing them reads every sheet of the project.
class ResultsCache {
 public:
  ResultsCache(db::QueryCache& tables, const Clock& clock, std::chrono::seconds ttl)
      : tables_(tables), clock_(clock), ttl_(ttl) {}

  bool enabled() const { return tables_.enabled() && ttl_.count() > 0; }
  db::QueryCache::Generations generations() { return tables_.generations(kTables); }

  std::shared_ptr<const std::string> get(const std::string& project_id) {
    if (!enabled()) return nullptr;
    const auto now = generations();
    std::lock_guard lock(mu_);
    auto it = entries_.find(project_id);
    if (it == entries_.end()) return nullptr;
    if (it->second.seen != now || clock_.steady_now() - it->second.at >= ttl_) {
      entries_.erase(it);
      return nullptr;
    }
    return it->second.body;
  }

  void put(const std::string& project_id, db::QueryCache::Generations seen,
           std::shared_ptr<const std::string> body) {
    if (!enabled()) return;
    std::lock_guard lock(mu_);
    if (entries_.size() >= kMaxProjects) entries_.clear();
    entries_[project_id] = Entry{std::move(seen), clock_.steady_now(), std::move(body)};
  }

 private:
  struct Entry {
    db::QueryCache::Generations seen;
    SteadyTime at;
    std::shared_ptr<const std::string> body;
  };
  static constexpr std::size_t kMaxProjects = 256;
  inline static const std::vector<std::string> kTables{"projects", "companies", "evaluation_sheets",
                                                       "users"};
  db::QueryCache& tables_;
  const Clock& clock_;
  std::chrono::seconds ttl_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

http::RouteSpec staff_route(std::string path, std::string summary, http::Handler handler) {
  http::RouteSpec r;
  r.method = "GET";
  r.path = std::move(path);
  r.tag = "Results";
  r.summary = std::move(summary);
  r.roles = {http::Role::kSecretary, http::Role::kAdmin};
  r.handler = std::move(handler);
  r.params.push_back(
      {"id", "path", true, "the project", schema(R"({"type":"string","format":"uuid"})")});
  return r;
}

}  // namespace

std::vector<http::RouteSpec> result_routes(AppContext& app) {
  auto& db = *app.db;
  auto& workers = *app.workers;
  const Clock& clock = app.clock;
  std::vector<http::RouteSpec> routes;

  auto cache = std::make_shared<ResultsCache>(
      db.cache(), clock, std::chrono::seconds(app.settings.db.query_cache_ttl_seconds));
  auto results = staff_route(
      "/api/projects/{id}/results", "Results of a project",
      [&, cache](Request&, RequestContext& ctx) -> asio::awaitable<Response> {
        const std::string id(ctx.param("id"));
        if (auto hit = cache->get(id)) co_return Response::json(200, *hit);
        const auto seen = cache->generations();  // before reading: a racing write wins
        auto r = co_await workers.run([&]() -> Result<std::shared_ptr<const std::string>> {
          auto got = domain::project_results(db, id);
          if (!got) return std::move(got).error();
          return std::make_shared<const std::string>(json::serialize(domain::results_json(*got)));
        });
        if (!r) co_return Response::from_error(std::move(r).error());
        cache->put(id, seen, *r);
        co_return Response::json(200, **r);
      });
  results.description =
      "Per company: the submitted and assigned sheets, the mean total and weighted scores of the "
      "submitted (and reviewed) sheets, the population standard deviation of their weighted "
      "scores, and the rank by mean weighted score (ties share a rank, the next skips: 1, 1, 3; "
      "companies without a submitted sheet come last, unranked). Per evaluator: assigned and "
      "submitted sheets. `completion` is submitted / assigned over the whole project. Served "
      "from a cache that a write through this server invalidates at once; with several "
      "instances, another instance's write shows within QUERY_CACHE_TTL_SECONDS.";
  results.responses = {
      {200, "The results", "application/json", schema(kResultsSchema), schema(kResultsExample)},
      error_doc(403, "Not a secretary or admin"),
      error_doc(404, "No such project")};
  routes.push_back(std::move(results));

  auto exp = staff_route(
      "/api/projects/{id}/export", "Export the results and scores (CSV or XLSX)",
      [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
        const std::string id(ctx.param("id"));
        const auto format_text = http::query_param(req.query, "format").value_or("csv");
        domain::ExportFormat format = domain::ExportFormat::kCsv;
        if (format_text == "xlsx") {
          format = domain::ExportFormat::kXlsx;
        } else if (format_text != "csv") {
          co_return Response::from_error(ApiError::validation(
              "Invalid query", {FieldError{"format", "Must be one of: csv, xlsx",
                                           "value_error.enum", format_text}}));
        }
        const std::string temp_root = std::filesystem::temp_directory_path().string();
        auto file = co_await workers.run(
            [&] { return domain::export_project(db, id, format, clock, temp_root); });
        if (!file) co_return Response::from_error(std::move(file).error());
        Response res;
        res.status = 200;
        res.headers.set("Content-Type", file->content_type);
        res.headers.set("Content-Disposition",
                        domain::attachment_disposition(file->file_name, file->ascii_name));
        res.file = std::move(file->body);
        co_return res;
      });
  exp.description =
      "The results table and every submitted (or reviewed) sheet's item scores, one row per "
      "sheet and item with the company, evaluator, template and item names. `format=csv` "
      "(default): UTF-8 with a byte order mark, two sections (`Results`, then `Scores`) separated "
      "by a blank line, each under a title row and a header row. `format=xlsx`: a workbook with "
      "the sheets `Results` and `Scores`. A text cell beginning with `=`, `+`, `-`, `@`, tab or "
      "carriage return gets a leading apostrophe (formula injection). Sent as an attachment "
      "named after the project (`filename*` in UTF-8), with its Content-Length: the file is "
      "spooled to disk as the rows are read and streamed from there. Rate category `export`.";
  exp.rate_category = http::RateCategory::kExport;
  exp.params.push_back({"format", "query", false, "csv (default) or xlsx",
                        schema(R"({"type":"string","enum":["csv","xlsx"],"default":"csv"})")});
  exp.responses = {
      {200,
       "The export: CSV as shown; with format=xlsx an XLSX workbook "
       "(application/vnd.openxmlformats-officedocument.spreadsheetml.sheet)",
       "text/csv; charset=utf-8", schema(R"({"type":"string"})"),
       json::value("Results\r\nrank,company,registration_number,assigned,submitted,"
                   "mean_total,mean_weighted,stddev_weighted\r\n1,한국 평가 주식회사,220-81-62517,"
                   "2,2,85.00,85.00,5.00\r\n")},
      {200,
       "",
       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
       schema(R"({"type":"string","format":"binary"})"),
       {}},
      error_doc(400, "Unknown format"),
      error_doc(403, "Not a secretary or admin"),
      error_doc(404, "No such project"),
      error_doc(422, "Too many rows for a spreadsheet (export CSV instead)")};
  routes.push_back(std::move(exp));
  return routes;
}

}  // namespace evald::api
