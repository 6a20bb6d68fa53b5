// Assignments: creating sheets (one or a batch), deadlines, deleting (docs/DOMAIN.md,
// "Assignments"). The sheets themselves are in evaluations.cpp.
#include <boost/json.hpp>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/ids.hpp"
#include "core/time_format.hpp"
#include "domain/evaluations.hpp"
#include "domain/sheet_support.hpp"
#include "domain/templates.hpp"

namespace evald::domain {
namespace {

namespace json = boost::json;
using detail::business_details;
using detail::opt_text;
using detail::problem;
using detail::sheet_row;

// At most this many per-pair problems are listed in one answer (the message gives the total).
constexpr std::size_t kMaxDetails = 200;
// Bound values per IN (...) list: well under both engines' limits.
constexpr std::size_t kInChunk = 500;

const char* const kInsertSheet =
    "INSERT INTO evaluation_sheets (id, project_id, evaluator_id, company_id, template_id, "
    "status, deadline, version, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, 'assigned', $6, 1, $7, $7)";

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

}  // namespace evald::domain
