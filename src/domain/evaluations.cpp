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
#include "domain/sheet_support.hpp"
#include "domain/templates.hpp"

namespace evald::domain {

namespace detail {

db::Value opt_text(const std::optional<std::string>& v) { return v ? db::Value(*v) : db::null(); }

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

}  // namespace detail

namespace {

namespace json = boost::json;
using detail::business_details;
using detail::opt_text;
using detail::problem;
using detail::sheet_row;

const char* const kCompanyColumns =
    "id, project_id, name, registration_number, representative, address, contact_email, "
    "contact_phone, created_at, updated_at";

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
