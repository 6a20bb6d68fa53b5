#include "domain/evaluations.hpp"

#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "auth/events.hpp"
#include "core/ids.hpp"
#include "core/time_format.hpp"
#include "domain/templates.hpp"

namespace evald::domain {
namespace {

namespace json = boost::json;

// At most this many per-pair problems are listed in one answer (the message gives the total).
constexpr std::size_t kMaxDetails = 200;
// Bound values per IN (...) list: well under both engines' limits.
constexpr std::size_t kInChunk = 500;

const char* const kCompanyColumns =
    "id, project_id, name, registration_number, representative, address, contact_email, "
    "contact_phone, created_at, updated_at";

const char* const kInsertSheet =
    "INSERT INTO evaluation_sheets (id, project_id, evaluator_id, company_id, template_id, "
    "status, deadline, version, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, 'assigned', $6, 1, $7, $7)";

db::Value opt_text(const std::optional<std::string>& v) { return v ? db::Value(*v) : db::null(); }

db::Value opt_real(const std::optional<double>& v) { return v ? db::Value(*v) : db::null(); }

// Whole numbers as integers ("30", not Boost.JSON's "3E1"), others as doubles.
json::value number(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) {
    return json::value(static_cast<std::int64_t>(v));
  }
  return json::value(v);
}

json::value real_or_null(const db::Rows& rows, std::size_t i, std::string_view col) {
  return rows.null_at(i, col) ? json::value(nullptr) : number(rows.real(i, col));
}

FieldError problem(std::string field, std::string message, std::string code) {
  return FieldError{std::move(field), std::move(message), std::move(code), std::nullopt};
}

ApiError business_details(std::string message, std::vector<FieldError> details) {
  ApiError e = business(std::move(message));
  e.details = std::move(details);
  return e;
}

Result<db::Rows> sheet_row(db::Tx& tx, std::string_view id) {
  return tx.query(std::string("SELECT ") + kSheetColumns + " FROM evaluation_sheets WHERE id = $1",
                  {std::string(id)});
}

// The sheet's row when `actor` may see it: staff see every sheet, an evaluator only their own.
// Anything else is "not found", exactly like an id that does not exist.
Result<db::Rows> visible_sheet(db::Tx& tx, const Actor& actor, std::string_view id) {
  if (!is_uuid(id)) return not_found("Evaluation sheet");
  auto rows = sheet_row(tx, id);
  if (!rows) return std::move(rows).error();
  if (rows->empty()) return not_found("Evaluation sheet");
  if (!actor.is_staff() && rows->text(0, "evaluator_id") != actor.user_id) {
    return not_found("Evaluation sheet");
  }
  return std::move(*rows);
}

Result<json::array> scores_json(db::Tx& tx, std::string_view sheet_id) {
  auto rows = tx.query(
      "SELECT s.item_id AS item_id, s.score AS score, s.opinion AS opinion FROM scores s "
      "JOIN template_items i ON i.id = s.item_id WHERE s.sheet_id = $1 ORDER BY i.sort_order",
      {std::string(sheet_id)});
  if (!rows) return std::move(rows).error();
  json::array out;
  for (std::size_t i = 0; i < rows->size(); ++i) {
    out.push_back(json::object{{"item_id", rows->text(i, "item_id")},
                               {"score", real_or_null(*rows, i, "score")},
                               {"opinion", text_or_null(*rows, i, "opinion")}});
  }
  return out;
}

// The sheet as it is now (after a change), with its scores.
Result<json::object> sheet_with_scores(db::Tx& tx, std::string_view id) {
  auto rows = sheet_row(tx, id);
  if (!rows) return std::move(rows).error();
  if (rows->empty()) return not_found("Evaluation sheet");
  json::object o = sheet_json(*rows, 0);
  auto scores = scores_json(tx, id);
  if (!scores) return std::move(scores).error();
  o["scores"] = std::move(*scores);
  return o;
}

// Holds the template's row in share mode while a sheet changes, and checks that its items are
// settled: a template sent back to draft is being revised, and nobody scores against it
// meanwhile. On PostgreSQL, FOR SHARE lets the sheets of one template change side by side while
// a template change (which updates the row) waits for them, and they for it; SQLite's single
// writer serialises them anyway. The order is the same as a template change's: template, then
// sheets.
Status lock_settled_template(db::Database& db, db::Tx& tx, const std::string& template_id) {
  const std::string sql = db.engine() == db::Engine::kPostgres
                              ? "SELECT status FROM templates WHERE id = $1 FOR SHARE"
                              : "SELECT status FROM templates WHERE id = $1";
  auto rows = tx.query(sql, {template_id});
  if (!rows) return std::move(rows).error();
  if (rows->empty() || rows->text(0, "status") == "draft") {
    return business(
        "The sheet's template is being revised (back in draft); try again once it is "
        "active");
  }
  return Ok{};
}

ApiError stale(std::int64_t current) {
  return conflict("The sheet was changed meanwhile: its current version is " +
                  std::to_string(current) + "; reload it and retry");
}

bool is_open(const std::string& status) { return status == "assigned" || status == "in_progress"; }

// After a guarded UPDATE changed nothing: why (the row as another writer left it).
ApiError explain_lost_race(db::Tx& tx, std::string_view id) {
  auto rows = sheet_row(tx, id);
  if (!rows || rows->empty()) return not_found("Evaluation sheet");
  return stale(rows->integer(0, "version"));
}

struct Refs {
  std::optional<std::string> project_deadline;
  std::vector<FieldError> problems;
};

// The project, the template and their fit, for assignments. Problems are 422 details.
// The template's row is held in share mode (PostgreSQL) until the sheets are written, so that it
// cannot be archived or sent back to draft in between.
Result<Refs> check_project_and_template(db::Database& db, db::Tx& tx, const std::string& project_id,
                                        const std::string& template_id) {
  Refs refs;
  auto project = tx.query("SELECT id, deadline, status FROM projects WHERE id = $1", {project_id});
  if (!project) return std::move(project).error();
  if (project->empty()) {
    refs.problems.push_back(problem("project_id", "No such project", "value_error.project_id"));
  } else {
    if (!project->null_at(0, "deadline")) refs.project_deadline = project->text(0, "deadline");
    const std::string status = project->text(0, "status");
    if (status != "active") {
      refs.problems.push_back(problem(
          "project_id", "The project is " + status + "; only an active project takes assignments",
          "value_error.project_status"));
    }
  }
  auto tmpl = tx.query(db.engine() == db::Engine::kPostgres
                           ? "SELECT status, project_id FROM templates WHERE id = $1 FOR SHARE"
                           : "SELECT status, project_id FROM templates WHERE id = $1",
                       {template_id});
  if (!tmpl) return std::move(tmpl).error();
  if (tmpl->empty()) {
    refs.problems.push_back(problem("template_id", "No such template", "value_error.template_id"));
  } else if (tmpl->text(0, "status") != "active") {
    refs.problems.push_back(problem(
        "template_id",
        "The template is " + tmpl->text(0, "status") + "; only an active template can be assigned",
        "value_error.template_status"));
  } else if (!tmpl->null_at(0, "project_id") && tmpl->text(0, "project_id") != project_id) {
    refs.problems.push_back(problem("template_id", "The template belongs to another project",
                                    "value_error.template_project"));
  }
  return refs;
}

json::object new_sheet_json(const std::string& id, const std::string& project_id,
                            const AssignmentPair& pair, const std::string& template_id,
                            const std::optional<std::string>& deadline, const std::string& now) {
  json::object o;
  o["id"] = id;
  o["project_id"] = project_id;
  o["evaluator_id"] = pair.evaluator_id;
  o["company_id"] = pair.company_id;
  o["template_id"] = template_id;
  o["status"] = "assigned";
  o["deadline"] = deadline ? json::value(*deadline) : json::value(nullptr);
  o["total_score"] = nullptr;
  o["weighted_score"] = nullptr;
  o["version"] = 1;
  o["submitted_at"] = nullptr;
  o["reviewed_at"] = nullptr;
  o["opinion"] = nullptr;
  o["created_at"] = now;
  o["updated_at"] = now;
  return o;
}

// The ids among `ids` that name active evaluators.
Result<std::unordered_set<std::string>> active_evaluators(db::Tx& tx,
                                                          const std::vector<std::string>& ids) {
  std::unordered_set<std::string> found;
  for (std::size_t begin = 0; begin < ids.size(); begin += kInChunk) {
    const std::size_t end = std::min(ids.size(), begin + kInChunk);
    std::string in;
    db::Params params;
    for (std::size_t i = begin; i < end; ++i) {
      params.push_back(ids[i]);
      in += (i > begin ? ", $" : "$") + std::to_string(params.size());
    }
    auto rows = tx.query(
        "SELECT id FROM users WHERE role = 'evaluator' AND is_active = 1 AND id IN (" + in + ")",
        params);
    if (!rows) return std::move(rows).error();
    for (std::size_t i = 0; i < rows->size(); ++i) found.insert(rows->text(i, "id"));
  }
  return found;
}

}  // namespace

const char* const kSheetColumns =
    "id, project_id, evaluator_id, company_id, template_id, status, deadline, total_score, "
    "weighted_score, version, submitted_at, reviewed_at, opinion, created_at, updated_at";

// --- pure parts --------------------------------------------------------------------------------

ScoreSummary compute_scores(const std::vector<ItemScore>& items) {
  ScoreSummary s;
  double weighted_sum = 0;
  double weights = 0;
  for (const auto& it : items) {
    if (!it.score) {
      if (it.is_required) s.missing_required.push_back(it.item_id);
      continue;
    }
    s.total_score += *it.score;
    if (it.max_score > 0) {
      weighted_sum += *it.score / it.max_score * it.weight;
      weights += it.weight;
    }
  }
  if (weights > 0) s.weighted_score = weighted_sum / weights * 100.0;
  return s;
}

json::object sheet_json(const db::Rows& rows, std::size_t i) {
  json::object o;
  o["id"] = rows.text(i, "id");
  o["project_id"] = rows.text(i, "project_id");
  o["evaluator_id"] = rows.text(i, "evaluator_id");
  o["company_id"] = rows.text(i, "company_id");
  o["template_id"] = rows.text(i, "template_id");
  o["status"] = rows.text(i, "status");
  o["deadline"] = text_or_null(rows, i, "deadline");
  o["total_score"] = real_or_null(rows, i, "total_score");
  o["weighted_score"] = real_or_null(rows, i, "weighted_score");
  o["version"] = rows.integer(i, "version");
  o["submitted_at"] = text_or_null(rows, i, "submitted_at");
  o["reviewed_at"] = text_or_null(rows, i, "reviewed_at");
  o["opinion"] = text_or_null(rows, i, "opinion");
  o["created_at"] = rows.text(i, "created_at");
  o["updated_at"] = rows.text(i, "updated_at");
  return o;
}

// --- assignments -------------------------------------------------------------------------------

Result<json::object> create_assignment(db::Database& db, const Clock& clock,
                                       const AssignmentInput& in) {
  const std::string id = new_uuid();
  const std::string now = format_iso8601(clock.now(), true);
  std::optional<json::object> out;
  auto st = db.write([&](db::Tx& tx) -> Status {
    auto refs = check_project_and_template(db, tx, in.project_id, in.template_id);
    if (!refs) return std::move(refs).error();
    auto evaluators = active_evaluators(tx, {in.evaluator_id});
    if (!evaluators) return std::move(evaluators).error();
    if (evaluators->empty()) {
      refs->problems.push_back(
          problem("evaluator_id", "Not an active evaluator", "value_error.evaluator_id"));
    }
    auto company = tx.query("SELECT id FROM companies WHERE id = $1 AND project_id = $2",
                            {in.company_id, in.project_id});
    if (!company) return std::move(company).error();
    if (company->empty()) {
      refs->problems.push_back(
          problem("company_id", "No such company in this project", "value_error.company_id"));
    }
    if (!refs->problems.empty()) {
      return business_details("The assignment does not fit", std::move(refs->problems));
    }
    auto existing = tx.query(
        "SELECT id FROM evaluation_sheets WHERE evaluator_id = $1 AND company_id = $2 AND "
        "template_id = $3",
        {in.evaluator_id, in.company_id, in.template_id});
    if (!existing) return std::move(existing).error();
    if (!existing->empty()) {
      return conflict(
          "This evaluator already has this company with this template",
          {problem("evaluator_id", "Already assigned (sheet " + existing->text(0, "id") + ")",
                   "value_error.duplicate")});
    }
    const auto deadline = in.deadline ? in.deadline : refs->project_deadline;
    auto ins = tx.exec(kInsertSheet, {id, in.project_id, in.evaluator_id, in.company_id,
                                      in.template_id, opt_text(deadline), now});
    if (!ins) return std::move(ins).error();
    out = new_sheet_json(id, in.project_id, {in.evaluator_id, in.company_id}, in.template_id,
                         deadline, now);
    return Ok{};
  });
  if (!st) return st.error();
  return std::move(*out);
}

Result<json::object> create_assignment_batch(db::Database& db, const Clock& clock,
                                             const AssignmentBatchInput& in) {
  const std::string now = format_iso8601(clock.now(), true);
  std::optional<json::object> out;
  auto st = db.write([&](db::Tx& tx) -> Status {
    auto refs = check_project_and_template(db, tx, in.project_id, in.template_id);
    if (!refs) return std::move(refs).error();
    if (!refs->problems.empty()) {
      return business_details("The assignments do not fit", std::move(refs->problems));
    }
    std::vector<std::string> ids;
    {
      std::set<std::string> distinct;
      for (const auto& p : in.pairs) distinct.insert(p.evaluator_id);
      ids.assign(distinct.begin(), distinct.end());
    }
    auto evaluators = active_evaluators(tx, ids);
    if (!evaluators) return std::move(evaluators).error();
    auto companies = tx.query("SELECT id FROM companies WHERE project_id = $1", {in.project_id});
    if (!companies) return std::move(companies).error();
    std::unordered_set<std::string> company_ids;
    for (std::size_t i = 0; i < companies->size(); ++i) {
      company_ids.insert(companies->text(i, "id"));
    }
    std::vector<FieldError> problems;
    std::size_t total = 0;
    auto add = [&](FieldError e) {
      if (++total <= kMaxDetails) problems.push_back(std::move(e));
    };
    for (std::size_t i = 0; i < in.pairs.size(); ++i) {
      const std::string at = "pairs[" + std::to_string(i) + "]";
      if (!evaluators->count(in.pairs[i].evaluator_id)) {
        add(problem(at + ".evaluator_id", "Not an active evaluator", "value_error.evaluator_id"));
      }
      if (!company_ids.count(in.pairs[i].company_id)) {
        add(problem(at + ".company_id", "No such company in this project",
                    "value_error.company_id"));
      }
    }
    if (total > 0) {
      return business_details(std::to_string(total) + " problem(s) in pairs; nothing was assigned",
                              std::move(problems));
    }
    auto existing =
        tx.query("SELECT evaluator_id, company_id FROM evaluation_sheets WHERE template_id = $1",
                 {in.template_id});
    if (!existing) return std::move(existing).error();
    std::unordered_set<std::string> taken;
    for (std::size_t i = 0; i < existing->size(); ++i) {
      taken.insert(existing->text(i, "evaluator_id") + "|" + existing->text(i, "company_id"));
    }
    std::unordered_map<std::string, std::size_t> seen;
    for (std::size_t i = 0; i < in.pairs.size(); ++i) {
      const std::string key = in.pairs[i].evaluator_id + "|" + in.pairs[i].company_id;
      const std::string at = "pairs[" + std::to_string(i) + "]";
      if (taken.count(key)) {
        add(problem(at, "Already assigned with this template", "value_error.duplicate"));
      } else if (auto [it, fresh] = seen.emplace(key, i); !fresh) {
        add(problem(at, "Same pair as pairs[" + std::to_string(it->second) + "]",
                    "value_error.duplicate"));
      }
    }
    if (total > 0) {
      return conflict(std::to_string(total) +
                          " pair(s) already assigned or repeated; nothing was "
                          "assigned",
                      std::move(problems));
    }
    std::vector<db::Params> rows;
    rows.reserve(in.pairs.size());
    json::array items;
    const auto deadline = in.deadline ? in.deadline : refs->project_deadline;
    for (const auto& p : in.pairs) {
      const std::string id = new_uuid();
      rows.push_back({id, in.project_id, p.evaluator_id, p.company_id, in.template_id,
                      opt_text(deadline), now});
      items.push_back(new_sheet_json(id, in.project_id, p, in.template_id, deadline, now));
    }
    if (auto s = tx.exec_many(kInsertSheet, rows); !s) return s;
    out = json::object{{"created", static_cast<std::int64_t>(rows.size())},
                       {"items", std::move(items)}};
    return Ok{};
  });
  if (!st) return st.error();
  return std::move(*out);
}

Result<json::object> set_deadline(db::Database& db, const Clock& clock, std::string_view sheet_id,
                                  const std::optional<std::string>& deadline) {
  if (!is_uuid(sheet_id)) return not_found("Assignment");
  const std::string now = format_iso8601(clock.now(), true);
  std::optional<json::object> out;
  auto st = db.write([&](db::Tx& tx) -> Status {
    auto n = tx.exec("UPDATE evaluation_sheets SET deadline = $2, updated_at = $3 WHERE id = $1",
                     {std::string(sheet_id), opt_text(deadline), now});
    if (!n) return std::move(n).error();
    if (*n == 0) return not_found("Assignment");
    auto rows = sheet_row(tx, sheet_id);
    if (!rows) return std::move(rows).error();
    out = sheet_json(*rows, 0);
    return Ok{};
  });
  if (!st) return st.error();
  return std::move(*out);
}

Status delete_assignment(db::Database& db, std::string_view sheet_id) {
  if (!is_uuid(sheet_id)) return not_found("Assignment");
  const std::string id(sheet_id);
  return db.write([&](db::Tx& tx) -> Status {
    auto n = tx.exec(
        "DELETE FROM evaluation_sheets WHERE id = $1 AND status IN ('assigned', 'in_progress') "
        "AND submitted_at IS NULL",
        {id});
    if (!n) return std::move(n).error();
    if (*n > 0) return Ok{};
    auto rows = sheet_row(tx, id);
    if (!rows) return std::move(rows).error();
    if (rows->empty()) return not_found("Assignment");
    return business("The sheet has been submitted (it is " + rows->text(0, "status") +
                    "); a submitted evaluation is kept");
  });
}

// --- evaluation sheets -------------------------------------------------------------------------

Result<json::object> get_evaluation(db::Database& db, const Actor& actor,
                                    std::string_view sheet_id) {
  std::optional<json::object> out;
  auto st = db.read([&](db::Tx& tx) -> Status {
    auto rows = visible_sheet(tx, actor, sheet_id);
    if (!rows) return std::move(rows).error();
    json::object view;
    view["sheet"] = sheet_json(*rows, 0);
    auto company =
        tx.query(std::string("SELECT ") + kCompanyColumns + " FROM companies WHERE id = $1",
                 {rows->text(0, "company_id")});
    if (!company) return std::move(company).error();
    if (company->empty()) {
      view["company"] = nullptr;
    } else {
      json::object c;
      for (const auto* col :
           {"id", "project_id", "name", "registration_number", "representative", "address",
            "contact_email", "contact_phone", "created_at", "updated_at"}) {
        c[col] = text_or_null(*company, 0, col);
      }
      view["company"] = std::move(c);
    }
    auto tmpl = load_template(tx, rows->text(0, "template_id"));
    if (!tmpl) return std::move(tmpl).error();
    view["template"] = *tmpl ? json::value(std::move(**tmpl)) : json::value(nullptr);
    auto scores = scores_json(tx, sheet_id);
    if (!scores) return std::move(scores).error();
    view["scores"] = std::move(*scores);
    view["version"] = rows->integer(0, "version");
    out = std::move(view);
    return Ok{};
  });
  if (!st) return st.error();
  return std::move(*out);
}

Result<json::object> save_draft(db::Database& db, const Clock& clock, const Actor& actor,
                                std::string_view sheet_id, const DraftInput& in) {
  const std::string now = format_iso8601(clock.now(), true);
  const std::string id(sheet_id);
  std::optional<json::object> out;
  auto st = db.write([&](db::Tx& tx) -> Status {
    auto rows = visible_sheet(tx, actor, sheet_id);
    if (!rows) return std::move(rows).error();
    if (rows->text(0, "evaluator_id") != actor.user_id) return not_found("Evaluation sheet");
    const std::string status = rows->text(0, "status");
    if (!is_open(status)) {
      return business("The sheet is " + status +
                      " and read-only; ask a secretary to reopen it to change it");
    }
    const std::int64_t current = rows->integer(0, "version");
    if (in.version != current) return stale(current);
    const std::string template_id = rows->text(0, "template_id");
    if (auto s = lock_settled_template(db, tx, template_id); !s) return s;
    auto items = load_template_items(tx, template_id);
    if (!items) return std::move(items).error();
    std::unordered_map<std::string, const TemplateItem*> by_id;
    for (const auto& it : *items) by_id[it.id] = &it;
    std::vector<FieldError> problems;
    std::unordered_map<std::string, std::size_t> seen;
    for (std::size_t i = 0; i < in.scores.size(); ++i) {
      const auto& s = in.scores[i];
      const std::string at = "scores[" + std::to_string(i) + "]";
      auto it = by_id.find(s.item_id);
      if (it == by_id.end()) {
        problems.push_back(problem(at + ".item_id", "Not an item of this sheet's template",
                                   "value_error.item_id"));
        continue;
      }
      if (auto [prev, fresh] = seen.emplace(s.item_id, i); !fresh) {
        problems.push_back(problem(at + ".item_id",
                                   "Same item as scores[" + std::to_string(prev->second) + "]",
                                   "value_error.duplicate"));
      }
      const TemplateItem& item = *it->second;
      if (s.score && (*s.score < item.min_score || *s.score > item.max_score)) {
        problems.push_back(problem(at + ".score",
                                   "Must be between " + json::serialize(number(item.min_score)) +
                                       " and " + json::serialize(number(item.max_score)) +
                                       " for this item",
                                   "value_error.number.range"));
      }
    }
    if (!problems.empty()) return ApiError::validation("Invalid scores", std::move(problems));
    std::optional<std::string> opinion =
        rows->null_at(0, "opinion") ? std::nullopt : std::optional(rows->text(0, "opinion"));
    if (in.opinion) opinion = *in.opinion;
    auto n = tx.exec(
        "UPDATE evaluation_sheets SET status = 'in_progress', version = version + 1, "
        "opinion = $3, updated_at = $4 WHERE id = $1 AND version = $2 AND "
        "status IN ('assigned', 'in_progress')",
        {id, current, opt_text(opinion), now});
    if (!n) return std::move(n).error();
    if (*n == 0) return explain_lost_race(tx, id);
    auto del = tx.exec("DELETE FROM scores WHERE sheet_id = $1", {id});
    if (!del) return std::move(del).error();
    std::vector<db::Params> score_rows;
    score_rows.reserve(in.scores.size());
    for (const auto& s : in.scores) {
      score_rows.push_back({id, s.item_id, opt_real(s.score), opt_text(s.opinion), now});
    }
    if (auto s = tx.exec_many("INSERT INTO scores (sheet_id, item_id, score, opinion, updated_at) "
                              "VALUES ($1, $2, $3, $4, $5)",
                              score_rows);
        !s) {
      return s;
    }
    auto sheet = sheet_with_scores(tx, id);
    if (!sheet) return std::move(sheet).error();
    out = std::move(*sheet);
    return Ok{};
  });
  if (!st) return st.error();
  return std::move(*out);
}

Result<json::object> submit_sheet(db::Database& db, const Clock& clock, const Actor& actor,
                                  std::string_view sheet_id, std::int64_t version) {
  const std::string now = format_iso8601(clock.now(), true);
  const std::string id(sheet_id);
  std::optional<json::object> out;
  auto st = db.write([&](db::Tx& tx) -> Status {
    auto rows = visible_sheet(tx, actor, sheet_id);
    if (!rows) return std::move(rows).error();
    if (rows->text(0, "evaluator_id") != actor.user_id) return not_found("Evaluation sheet");
    const std::string status = rows->text(0, "status");
    if (!is_open(status)) return business("The sheet is " + status + " already");
    const std::int64_t current = rows->integer(0, "version");
    if (version != current) return stale(current);
    if (!rows->null_at(0, "deadline") && now >= rows->text(0, "deadline")) {
      return business("The deadline (" + rows->text(0, "deadline") +
                      ") has passed; ask a secretary to extend it");
    }
    const std::string template_id = rows->text(0, "template_id");
    if (auto s = lock_settled_template(db, tx, template_id); !s) return s;
    auto items = load_template_items(tx, template_id);
    if (!items) return std::move(items).error();
    auto given = tx.query("SELECT item_id, score FROM scores WHERE sheet_id = $1", {id});
    if (!given) return std::move(given).error();
    std::unordered_map<std::string, double> scored;
    for (std::size_t i = 0; i < given->size(); ++i) {
      if (!given->null_at(i, "score")) scored[given->text(i, "item_id")] = given->real(i, "score");
    }
    std::vector<ItemScore> input;
    std::unordered_map<std::string, std::string> names;
    for (const auto& it : *items) {
      ItemScore s{it.id, it.max_score, it.weight, it.is_required, std::nullopt};
      if (auto f = scored.find(it.id); f != scored.end()) s.score = f->second;
      input.push_back(std::move(s));
      names[it.id] = it.name;
    }
    const ScoreSummary summary = compute_scores(input);
    if (!summary.missing_required.empty()) {
      std::vector<FieldError> missing;
      for (const auto& item_id : summary.missing_required) {
        missing.push_back(FieldError{"scores", "Required item not scored: " + names[item_id],
                                     "value_error.missing_score", item_id});
      }
      return business_details(
          std::to_string(missing.size()) + " required item(s) not scored; save their scores first",
          std::move(missing));
    }
    auto n = tx.exec(
        "UPDATE evaluation_sheets SET status = 'submitted', total_score = $3, "
        "weighted_score = $4, submitted_at = $5, version = version + 1, updated_at = $5 "
        "WHERE id = $1 AND version = $2 AND status IN ('assigned', 'in_progress') AND "
        "(deadline IS NULL OR deadline > $5)",
        {id, current, summary.total_score, opt_real(summary.weighted_score), now});
    if (!n) return std::move(n).error();
    if (*n == 0) {
      auto again = sheet_row(tx, id);
      if (!again) return std::move(again).error();
      if (!again->empty() && again->integer(0, "version") == current) {
        return business("The deadline has passed; ask a secretary to extend it");
      }
      return explain_lost_race(tx, id);
    }
    auto sheet = sheet_with_scores(tx, id);
    if (!sheet) return std::move(sheet).error();
    out = std::move(*sheet);
    return Ok{};
  });
  if (!st) return st.error();
  return std::move(*out);
}

Result<json::object> reopen_sheet(db::Database& db, const Clock& clock, const Actor& actor,
                                  std::string_view sheet_id, std::optional<std::int64_t> version,
                                  const std::optional<std::string>& reason,
                                  const AuditContext& audit) {
  const std::string now = format_iso8601(clock.now(), true);
  const std::string id(sheet_id);
  std::optional<json::object> out;
  auto st = db.write([&](db::Tx& tx) -> Status {
    auto rows = visible_sheet(tx, actor, sheet_id);
    if (!rows) return std::move(rows).error();
    const std::string status = rows->text(0, "status");
    if (status != "submitted") {
      return business("Only a submitted sheet can be reopened; this one is " + status);
    }
    const std::int64_t current = rows->integer(0, "version");
    if (version && *version != current) return stale(current);
    // The computed scores go with the submission; they are computed again at the next one.
    auto n = tx.exec(
        "UPDATE evaluation_sheets SET status = 'in_progress', total_score = NULL, "
        "weighted_score = NULL, version = version + 1, updated_at = $3 "
        "WHERE id = $1 AND version = $2 AND status = 'submitted'",
        {id, current, now});
    if (!n) return std::move(n).error();
    if (*n == 0) return explain_lost_race(tx, id);
    std::string details = "sheet " + id + " of evaluator " + rows->text(0, "evaluator_id");
    if (reason && !reason->empty()) details += "; reason: " + *reason;
    if (auto s = auth::record_event(
            tx,
            auth::SecurityEvent{"evaluation_reopened", actor.user_id, "", audit.ip,
                                audit.user_agent, audit.request_id, details},
            now);
        !s) {
      return s;
    }
    auto sheet = sheet_with_scores(tx, id);
    if (!sheet) return std::move(sheet).error();
    out = std::move(*sheet);
    return Ok{};
  });
  if (!st) return st.error();
  return std::move(*out);
}

Result<json::object> review_sheet(db::Database& db, const Clock& clock, const Actor& actor,
                                  std::string_view sheet_id, std::optional<std::int64_t> version) {
  const std::string now = format_iso8601(clock.now(), true);
  const std::string id(sheet_id);
  std::optional<json::object> out;
  auto st = db.write([&](db::Tx& tx) -> Status {
    auto rows = visible_sheet(tx, actor, sheet_id);
    if (!rows) return std::move(rows).error();
    const std::string status = rows->text(0, "status");
    if (status != "submitted") {
      return business("Only a submitted sheet can be reviewed; this one is " + status);
    }
    const std::int64_t current = rows->integer(0, "version");
    if (version && *version != current) return stale(current);
    auto n = tx.exec(
        "UPDATE evaluation_sheets SET status = 'reviewed', reviewed_at = $3, "
        "version = version + 1, updated_at = $3 WHERE id = $1 AND version = $2 AND "
        "status = 'submitted'",
        {id, current, now});
    if (!n) return std::move(n).error();
    if (*n == 0) return explain_lost_race(tx, id);
    auto sheet = sheet_with_scores(tx, id);
    if (!sheet) return std::move(sheet).error();
    out = std::move(*sheet);
    return Ok{};
  });
  if (!st) return st.error();
  return std::move(*out);
}

}  // namespace evald::domain
