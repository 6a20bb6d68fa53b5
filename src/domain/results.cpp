#include "domain/results.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <functional>
#include <unordered_map>

#include "domain/domain.hpp"

namespace evald::domain {
namespace {

namespace json = boost::json;

#define EVALD_COUNTED "('submitted', 'reviewed')"

// Per company, in one pass over its sheets (idx_sheets_company): every sheet for the assigned
// count, the submitted and reviewed ones for the means.
constexpr const char* kCompanySql =
    "SELECT c.id AS company_id, c.name, c.registration_number, COUNT(s.id) AS assigned, "
    "COALESCE(SUM(CASE WHEN s.status IN " EVALD_COUNTED
    " THEN 1 ELSE 0 END), 0) AS submitted, "
    "AVG(CASE WHEN s.status IN " EVALD_COUNTED
    " THEN s.total_score END) AS mean_total, "
    "AVG(CASE WHEN s.status IN " EVALD_COUNTED
    " THEN s.weighted_score END) AS mean_weighted "
    "FROM companies c LEFT JOIN evaluation_sheets s "
    "ON s.company_id = c.id AND s.project_id = c.project_id "
    "WHERE c.project_id = $1 GROUP BY c.id, c.name, c.registration_number";

// The counted weighted scores, for the variance around each company's mean, computed here in a
// second pass (a sum of squares minus a squared sum would lose the digits that matter for close
// scores).
constexpr const char* kScoresSql =
    "SELECT company_id, weighted_score FROM evaluation_sheets WHERE project_id = $1 "
    "AND status IN " EVALD_COUNTED " AND weighted_score IS NOT NULL";

constexpr const char* kEvaluatorSql =
    "SELECT u.id AS evaluator_id, u.user_name, COUNT(*) AS assigned, "
    "SUM(CASE WHEN s.status IN " EVALD_COUNTED
    " THEN 1 ELSE 0 END) AS submitted "
    "FROM evaluation_sheets s JOIN users u ON u.id = s.evaluator_id "
    "WHERE s.project_id = $1 GROUP BY u.id, u.user_name ORDER BY u.user_name, u.id";

#undef EVALD_COUNTED

std::optional<double> optional_real(const db::Rows& rows, std::size_t i, std::string_view col) {
  if (rows.null_at(i, col)) return std::nullopt;
  return rows.real(i, col);
}

json::value number_or_null(const std::optional<double>& v) {
  return v ? json::value(*v) : json::value();
}

// Equal within what summing in another order may change; scores have at most a few decimals.
bool same_score(double a, double b) {
  return std::fabs(a - b) <= 1e-9 * std::max(1.0, std::fabs(a));
}

}  // namespace

void rank_companies(std::vector<CompanyResult>& companies) {
  std::stable_sort(companies.begin(), companies.end(),
                   [](const CompanyResult& a, const CompanyResult& b) {
                     if (a.mean_weighted.has_value() != b.mean_weighted.has_value()) {
                       return a.mean_weighted.has_value();
                     }
                     if (a.mean_weighted && !same_score(*a.mean_weighted, *b.mean_weighted)) {
                       return *a.mean_weighted > *b.mean_weighted;
                     }
                     if (a.name != b.name) return a.name < b.name;
                     return a.company_id < b.company_id;
                   });
  for (std::size_t i = 0; i < companies.size(); ++i) {
    auto& c = companies[i];
    if (!c.mean_weighted) break;
    if (i > 0 && same_score(*companies[i - 1].mean_weighted, *c.mean_weighted)) {
      c.rank = companies[i - 1].rank;
    } else {
      c.rank = static_cast<std::int64_t>(i + 1);
    }
  }
}

namespace {

using Query = std::function<Result<db::Rows>(const char* sql, const db::Params& params,
                                             const std::vector<std::string>& tables)>;

Result<ProjectResults> compute_results(const Query& query, std::string_view project_id) {
  if (!is_uuid(project_id)) return not_found("Project");
  const db::Params id{std::string(project_id)};
  auto project = query("SELECT id, name FROM projects WHERE id = $1", id, {"projects"});
  if (!project) return std::move(project).error();
  if (project->empty()) return not_found("Project");
  ProjectResults r;
  r.project_id = project->text(0, "id");
  r.project_name = project->text(0, "name");

  auto companies = query(kCompanySql, id, {"companies", "evaluation_sheets"});
  if (!companies) return std::move(companies).error();
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < companies->size(); ++i) {
    CompanyResult c;
    c.company_id = companies->text(i, "company_id");
    c.name = companies->text(i, "name");
    c.registration_number = companies->text(i, "registration_number");
    c.assigned = companies->integer(i, "assigned");
    c.submitted = companies->integer(i, "submitted");
    if (c.submitted > 0) {
      c.mean_total = optional_real(*companies, i, "mean_total");
      c.mean_weighted = optional_real(*companies, i, "mean_weighted");
    }
    r.assigned += c.assigned;
    r.submitted += c.submitted;
    index.emplace(c.company_id, r.companies.size());
    r.companies.push_back(std::move(c));
  }
  auto scores = query(kScoresSql, id, {"evaluation_sheets"});
  if (!scores) return std::move(scores).error();
  std::vector<std::pair<double, std::int64_t>> squares(r.companies.size(), {0.0, 0});
  for (std::size_t i = 0; i < scores->size(); ++i) {
    auto it = index.find(scores->text(i, "company_id"));
    if (it == index.end() || !r.companies[it->second].mean_weighted) continue;
    const double d = scores->real(i, "weighted_score") - *r.companies[it->second].mean_weighted;
    squares[it->second].first += d * d;
    squares[it->second].second += 1;
  }
  for (std::size_t i = 0; i < r.companies.size(); ++i) {
    if (squares[i].second > 0) {
      r.companies[i].stddev_weighted =
          std::sqrt(squares[i].first / static_cast<double>(squares[i].second));
    }
  }
  rank_companies(r.companies);
  r.completion = r.assigned > 0 ? static_cast<double>(r.submitted) / r.assigned : 0.0;

  auto evaluators = query(kEvaluatorSql, id, {"evaluation_sheets", "users"});
  if (!evaluators) return std::move(evaluators).error();
  for (std::size_t i = 0; i < evaluators->size(); ++i) {
    r.evaluators.push_back({evaluators->text(i, "evaluator_id"), evaluators->text(i, "user_name"),
                            evaluators->integer(i, "assigned"),
                            evaluators->integer(i, "submitted")});
  }
  return r;
}

}  // namespace

Result<ProjectResults> project_results(db::Tx& tx, std::string_view project_id) {
  return compute_results([&](const char* sql, const db::Params& params,
                             const std::vector<std::string>&) { return tx.query(sql, params); },
                         project_id);
}

Result<ProjectResults> project_results(db::Database& db, std::string_view project_id) {
  return compute_results(
      [&](const char* sql, const db::Params& params, const std::vector<std::string>& tables) {
        return db.cached_query(sql, params, tables);
      },
      project_id);
}

json::object results_json(const ProjectResults& r) {
  json::array companies;
  for (const auto& c : r.companies) {
    json::object o;
    o["company_id"] = c.company_id;
    o["name"] = c.name;
    o["registration_number"] = c.registration_number;
    o["submitted"] = c.submitted;
    o["assigned"] = c.assigned;
    o["mean_total"] = number_or_null(c.mean_total);
    o["mean_weighted"] = number_or_null(c.mean_weighted);
    o["stddev_weighted"] = number_or_null(c.stddev_weighted);
    o["rank"] = c.rank ? json::value(*c.rank) : json::value();
    companies.push_back(std::move(o));
  }
  json::array evaluators;
  for (const auto& e : r.evaluators) {
    json::object o;
    o["evaluator_id"] = e.evaluator_id;
    o["user_name"] = e.user_name;
    o["assigned"] = e.assigned;
    o["submitted"] = e.submitted;
    o["completion"] =
        e.assigned > 0 ? static_cast<double>(e.submitted) / static_cast<double>(e.assigned) : 0.0;
    evaluators.push_back(std::move(o));
  }
  json::object out;
  out["project_id"] = r.project_id;
  out["project_name"] = r.project_name;
  out["companies"] = std::move(companies);
  out["evaluators"] = std::move(evaluators);
  out["assigned"] = r.assigned;
  out["submitted"] = r.submitted;
  out["completion"] = r.completion;
  return out;
}

}  // namespace evald::domain
