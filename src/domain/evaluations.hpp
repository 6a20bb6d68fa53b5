#pragma once
/// Assignments and evaluation sheets (docs/DOMAIN.md, "Assignments", "Evaluation sheets").
///
/// An assignment IS a sheet: evaluator x company x template in a project, status
/// assigned -> in_progress (first draft saved) -> submitted -> reviewed; reopen takes a submitted
/// sheet back to in_progress. Every change of a sheet is one transaction whose UPDATE carries
/// `WHERE id = $1 AND version = $2`, so that of two concurrent writers exactly one wins.
///
/// Every function blocks (database): run it on the worker pool.

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"
#include "domain/domain.hpp"

namespace evald::domain {

inline constexpr std::size_t kMaxBatchPairs = 5000;
inline constexpr std::size_t kMaxOpinion = 4000;
inline constexpr std::size_t kMaxReopenReason = 1000;

// --- the score computation (pure) ------------------------------------------------------------

struct ItemScore {
  std::string item_id;
  double max_score = 1;
  double weight = 1;
  bool is_required = true;
  std::optional<double> score;  ///< nullopt: not scored
};

struct ScoreSummary {
  double total_score = 0;                     ///< sum of the scores given
  std::optional<double> weighted_score;       ///< nullopt when no scored item carries weight
  std::vector<std::string> missing_required;  ///< required items without a score, in order
};

/// total = Σ score; weighted = Σ(score / max_score × weight) / Σ weight × 100 over the scored
/// items (0 to 100 when scores are within 0..max_score).
ScoreSummary compute_scores(const std::vector<ItemScore>& items);

// --- inputs ------------------------------------------------------------------------------------

/// Who sends a request, for the audit trail (security events).
struct AuditContext {
  std::string ip;
  std::string user_agent;
  std::string request_id;
};

struct AssignmentInput {
  std::string project_id;
  std::string evaluator_id;
  std::string company_id;
  std::string template_id;
  std::optional<std::string> deadline;  ///< UTC, normalised; nullopt: the project's
};

struct AssignmentPair {
  std::string evaluator_id;
  std::string company_id;
};

struct AssignmentBatchInput {
  std::string project_id;
  std::string template_id;
  std::optional<std::string> deadline;
  std::vector<AssignmentPair> pairs;
};

struct ScoreInput {
  std::string item_id;
  std::optional<double> score;
  std::optional<std::string> opinion;
};

struct DraftInput {
  std::int64_t version = 0;
  std::vector<ScoreInput> scores;  ///< replace the sheet's scores
  /// Absent: unchanged; present with nullopt: cleared.
  std::optional<std::optional<std::string>> opinion;
};

// --- sheets as JSON and listing ----------------------------------------------------------------

/// Columns of `evaluation_sheets` selected by the list query.
extern const char* const kSheetColumns;
/// One row (of kSheetColumns) as the Sheet object.
boost::json::object sheet_json(const db::Rows& rows, std::size_t i);

// --- assignments (secretary, admin) --------------------------------------------------------------

Result<boost::json::object> create_assignment(db::Database& db, const Clock& clock,
                                              const AssignmentInput& in);
/// All or nothing: {created, items}. Problems are reported as pairs[i].field.
Result<boost::json::object> create_assignment_batch(db::Database& db, const Clock& clock,
                                                    const AssignmentBatchInput& in);
/// A new deadline (nullopt: none).
Result<boost::json::object> set_deadline(db::Database& db, const Clock& clock,
                                         std::string_view sheet_id,
                                         const std::optional<std::string>& deadline);
/// Only while nothing was ever submitted on the sheet.
Status delete_assignment(db::Database& db, std::string_view sheet_id);

// --- evaluation sheets -------------------------------------------------------------------------

/// {sheet, company, template, scores, version}: the owner evaluator or staff; others 404.
Result<boost::json::object> get_evaluation(db::Database& db, const Actor& actor,
                                           std::string_view sheet_id);
/// The owner saves a draft: the sheet (version + 1) with its scores.
Result<boost::json::object> save_draft(db::Database& db, const Clock& clock, const Actor& actor,
                                       std::string_view sheet_id, const DraftInput& in);
/// The owner submits: every required item scored, before the deadline.
Result<boost::json::object> submit_sheet(db::Database& db, const Clock& clock, const Actor& actor,
                                         std::string_view sheet_id, std::int64_t version);
/// Staff: submitted -> in_progress (recorded as a security event with the reason).
Result<boost::json::object> reopen_sheet(db::Database& db, const Clock& clock, const Actor& actor,
                                         std::string_view sheet_id,
                                         std::optional<std::int64_t> version,
                                         const std::optional<std::string>& reason,
                                         const AuditContext& audit);
/// Staff: submitted -> reviewed.
Result<boost::json::object> review_sheet(db::Database& db, const Clock& clock, const Actor& actor,
                                         std::string_view sheet_id,
                                         std::optional<std::int64_t> version);

}  // namespace evald::domain
