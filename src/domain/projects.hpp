#pragma once
/// Projects (docs/DOMAIN.md, "Projects"): the service and its SQL. Staff (secretary, admin) see
/// and change every project; an evaluator sees only the projects they have a sheet in.

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "db/database.hpp"
#include "domain/domain.hpp"

namespace evald::domain {

// The contract's bounds (docs/DOMAIN.md).
inline constexpr std::size_t kProjectNameMax = 200;
inline constexpr std::size_t kProjectDescriptionMax = 4000;
inline constexpr std::size_t kSearchMax = 200;

/// One listing condition with "?" for each bound value (api::Where::add_raw's form).
struct SqlCondition {
  std::string sql;
  std::vector<db::Value> values;
};

/// A LIKE pattern that matches `text` anywhere, with %, _ and \ taken literally (ESCAPE '\').
std::string like_contains(std::string_view text);

inline constexpr std::string_view kProjectStatuses[] = {"active", "closed", "archived"};

struct ProjectFields {
  std::string name;
  std::optional<std::string> description;
  std::optional<std::string> start_date;  ///< YYYY-MM-DD
  std::optional<std::string> end_date;    ///< YYYY-MM-DD, not before start_date
  std::optional<std::string> deadline;    ///< stored form (normalize_timestamp)
  std::string status = "active";
};

/// PATCH: absent leaves a field alone; for the optional ones, a present nullopt clears it.
struct ProjectPatch {
  std::optional<std::string> name;
  std::optional<std::optional<std::string>> description;
  std::optional<std::optional<std::string>> start_date;
  std::optional<std::optional<std::string>> end_date;
  std::optional<std::optional<std::string>> deadline;
  std::optional<std::string> status;
};

/// Inserts the project; 400 when end_date is before start_date.
Result<boost::json::object> create_project(db::Tx& tx, const Actor& actor, const ProjectFields& in,
                                           std::string_view now);
/// The project when `actor` may see it; 404 otherwise (exactly as for an unknown id).
Result<boost::json::object> get_project(db::Tx& tx, const Actor& actor, std::string_view id);
/// Applies the patch; the date order is checked on the merged values (400, field end_date).
Result<boost::json::object> update_project(db::Tx& tx, std::string_view id,
                                           const ProjectPatch& patch, std::string_view now);
/// 422 when any sheet of the project is submitted or reviewed; otherwise the project goes with
/// its companies, templates, sheets, scores and file records.
Status delete_project(db::Tx& tx, std::string_view id);
/// 404 unless the project exists.
Status require_project(db::Tx& tx, std::string_view id);

/// Listing: "SELECT <columns> FROM projects", the conditions for the caller and the filters
/// (status must already be valid), and one row's view.
std::string project_select();
std::vector<SqlCondition> project_conditions(const Actor& actor,
                                             const std::optional<std::string>& status,
                                             const std::optional<std::string>& search);
boost::json::object project_json(const db::Rows& rows, std::size_t i);

}  // namespace evald::domain
