#include "domain/results.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>

#include "domain/domain.hpp"

namespace evald::domain {
namespace {

namespace json = boost::json;

#define EVALD_COUNTED "('submitted', 'reviewed')"

// Per company: every sheet for the assigned count; the submitted and reviewed ones for the
// means; the variance in a second pass over the same sheets, around their mean (a sum of
// squares minus a squared sum would lose the digits that matter for close scores).
constexpr const char* kCompanySql =
    "SELECT c.id AS company_id, c.name, c.registration_number, "
    "COALESCE(a.assigned, 0) AS assigned, COALESCE(a.submitted, 0) AS submitted, "
    "a.mean_total, a.mean_weighted, v.var_weighted "
    "FROM companies c "
    "LEFT JOIN (SELECT company_id, COUNT(*) AS assigned, "
    "SUM(CASE WHEN status IN " EVALD_COUNTED
    " THEN 1 ELSE 0 END) AS submitted, "
    "AVG(CASE WHEN status IN " EVALD_COUNTED
    " THEN total_score END) AS mean_total, "
    "AVG(CASE WHEN status IN " EVALD_COUNTED
    " THEN weighted_score END) AS mean_weighted "
    "FROM evaluation_sheets WHERE project_id = $1 GROUP BY company_id) a "
    "ON a.company_id = c.id "
    "LEFT JOIN (SELECT s.company_id, "
    "AVG((s.weighted_score - m.mean) * (s.weighted_score - m.mean)) AS var_weighted "
    "FROM evaluation_sheets s JOIN (SELECT company_id, AVG(weighted_score) AS mean "
    "FROM evaluation_sheets WHERE project_id = $1 AND status IN " EVALD_COUNTED
    " GROUP BY company_id) m ON m.company_id = s.company_id "
    "WHERE s.project_id = $1 AND s.status IN " EVALD_COUNTED
    " AND s.weighted_score IS NOT NULL GROUP BY s.company_id) v "
    "ON v.company_id = c.id "
    "WHERE c.project_id = $1";

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

Result<ProjectResults> project_results(db::Tx& tx, std::string_view project_id) {
  if (!is_uuid(project_id)) return not_found("Project");
  const db::Params id{std::string(project_id)};
  auto project = tx.query("SELECT id, name FROM projects WHERE id = $1", id);
  if (!project) return std::move(project).error();
  if (project->empty()) return not_found("Project");
  ProjectResults r;
  r.project_id = project->text(0, "id");
  r.project_name = project->text(0, "name");

  auto companies = tx.query(kCompanySql, id);
  if (!companies) return std::move(companies).error();
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
      if (auto var = optional_real(*companies, i, "var_weighted")) {
        c.stddev_weighted = std::sqrt(std::max(0.0, *var));
      }
    }
    r.assigned += c.assigned;
    r.submitted += c.submitted;
    r.companies.push_back(std::move(c));
  }
  rank_companies(r.companies);
  r.completion = r.assigned > 0 ? static_cast<double>(r.submitted) / r.assigned : 0.0;

  auto evaluators = tx.query(kEvaluatorSql, id);
  if (!evaluators) return std::move(evaluators).error();
  for (std::size_t i = 0; i < evaluators->size(); ++i) {
    r.evaluators.push_back({evaluators->text(i, "evaluator_id"), evaluators->text(i, "user_name"),
                            evaluators->integer(i, "assigned"),
                            evaluators->integer(i, "submitted")});
  }
  return r;
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
