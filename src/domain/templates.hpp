#pragma once
/// Evaluation templates (docs/DOMAIN.md, "Templates"): a named, versioned list of scored items.
/// Status draft -> active -> archived; only a draft changes its items; an active template that no
/// submitted sheet uses may go back to draft; copies are new drafts with version + 1.
///
/// Every function blocks (database): run it on the worker pool. Each write is one transaction.

#include <boost/json/array.hpp>
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

/// Limits of a template body (docs/DOMAIN.md).
inline constexpr std::size_t kMaxTemplateItems = 100;
inline constexpr double kMaxItemScore = 1000;
inline constexpr double kMaxItemWeight = 100;
inline constexpr std::size_t kMaxTemplateName = 200;
inline constexpr std::size_t kMaxItemName = 200;
inline constexpr std::size_t kMaxDescription = 2000;
inline constexpr std::size_t kMaxCategory = 100;

struct TemplateItemInput {
  std::string name;
  std::optional<std::string> description;
  double min_score = 0;
  double max_score = 0;
  double weight = 1;
  bool is_required = true;
  std::optional<std::string> category;
  bool bonus = false;
};

struct TemplateInput {
  std::string name;
  std::optional<std::string> description;
  std::optional<std::string> project_id;  ///< null: a template for any project
  std::vector<TemplateItemInput> items;
};

/// PATCH: only the fields present change. For the optional texts, an inner nullopt clears.
struct TemplatePatch {
  std::optional<std::string> name;
  std::optional<std::optional<std::string>> description;
  std::optional<std::optional<std::string>> project_id;
  std::optional<std::vector<TemplateItemInput>> items;
  bool back_to_draft = false;  ///< {"status": "draft"}
  bool empty() const { return !name && !description && !project_id && !items && !back_to_draft; }
};

/// POST /copy: optional overrides of the copy.
struct TemplateCopyInput {
  std::optional<std::string> name;
  std::optional<std::optional<std::string>> project_id;
};

/// One template item as the scoring needs it.
struct TemplateItem {
  std::string id;
  std::string name;
  double min_score = 0;
  double max_score = 0;
  double weight = 1;
  bool is_required = true;
  bool bonus = false;
  int order = 0;
};

/// Columns of `templates` selected by the list query (so that listing code can add a WHERE).
extern const char* const kTemplateColumns;

/// The template (with its items in order) as JSON; nullopt when it does not exist.
Result<std::optional<boost::json::object>> load_template(db::Tx& tx, std::string_view id);
/// Its items, ordered.
Result<std::vector<TemplateItem>> load_template_items(db::Tx& tx, std::string_view template_id);
/// `rows` (of kTemplateColumns) as JSON, the first `n` only, each with its items (one query).
Result<boost::json::array> templates_json(db::Tx& tx, const db::Rows& rows, std::size_t n);

Result<boost::json::object> create_template(db::Database& db, const Clock& clock,
                                            const Actor& actor, const TemplateInput& in);
Result<boost::json::object> get_template(db::Database& db, std::string_view id);
Result<boost::json::object> update_template(db::Database& db, const Clock& clock,
                                            std::string_view id, const TemplatePatch& patch);
/// Only a template no sheet uses (422 otherwise).
Status delete_template(db::Database& db, std::string_view id);
/// draft -> active (at least one item).
Result<boost::json::object> activate_template(db::Database& db, const Clock& clock,
                                              std::string_view id);
/// draft or active -> archived: no new assignments; existing sheets go on.
Result<boost::json::object> archive_template(db::Database& db, const Clock& clock,
                                             std::string_view id);
/// A new draft: version + 1, parent_id = id, items copied.
Result<boost::json::object> copy_template(db::Database& db, const Clock& clock, const Actor& actor,
                                          std::string_view id, const TemplateCopyInput& in);

}  // namespace evald::domain
