#pragma once
/// Results of a project (docs/DOMAIN.md, "Results and exports"): per company the submitted
/// sheets' mean total and weighted scores, the spread of the weighted score and a rank; per
/// evaluator their progress; and the completion of the whole project. Only submitted and
/// reviewed sheets count. Aggregated in SQL (one query per table), not per company.

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "db/database.hpp"

namespace evald::domain {

struct CompanyResult {
  std::string company_id;
  std::string name;
  std::string registration_number;
  std::int64_t assigned = 0;   ///< sheets of any status
  std::int64_t submitted = 0;  ///< submitted or reviewed sheets
  std::optional<double> mean_total;
  std::optional<double> mean_weighted;
  /// Population standard deviation of the submitted sheets' weighted scores: those sheets are
  /// every score the company has, not a sample of them (0 for a single sheet).
  std::optional<double> stddev_weighted;
  std::optional<std::int64_t> rank;  ///< none without a submitted sheet
};

struct EvaluatorProgress {
  std::string evaluator_id;
  std::string user_name;
  std::int64_t assigned = 0;
  std::int64_t submitted = 0;
};

struct ProjectResults {
  std::string project_id;
  std::string project_name;
  std::vector<CompanyResult> companies;  ///< ranked first (best first), then unranked by name
  std::vector<EvaluatorProgress> evaluators;
  std::int64_t assigned = 0;
  std::int64_t submitted = 0;
  double completion = 0;  ///< submitted / assigned; 0 when nothing is assigned
};

/// The results, on one snapshot; 404 when the project does not exist.
Result<ProjectResults> project_results(db::Tx& tx, std::string_view project_id);
/// The same through the query cache: repeated reads cost no query until this instance writes to
/// the tables they read (or QUERY_CACHE_TTL_SECONDS pass, for writes by other instances).
Result<ProjectResults> project_results(db::Database& db, std::string_view project_id);

/// Sorts by mean weighted score (best first) and ranks with ties sharing a rank, the next rank
/// skipping as many places (competition ranking: 1, 1, 3); companies without a mean go last,
/// unranked, by name.
void rank_companies(std::vector<CompanyResult>& companies);

boost::json::object results_json(const ProjectResults& r);

}  // namespace evald::domain
