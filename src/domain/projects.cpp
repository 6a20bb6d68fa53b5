#include "domain/projects.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>

#include "core/ids.hpp"
#include "core/time_format.hpp"

namespace evald::domain {
namespace {

namespace json = boost::json;

constexpr const char* kColumns =
    "id, name, description, start_date, end_date, deadline, status, created_by, created_at, "
    "updated_at";

db::Value value_or_null(const std::optional<std::string>& v) {
  return v ? db::Value(*v) : db::null();
}

ApiError date_order_error() {
  return ApiError::validation(
      "Request validation failed",
      {FieldError{"end_date", "Must not be before start_date", "value_error.date_order", {}}});
}

}  // namespace

std::string like_contains(std::string_view text) {
  std::string p = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') p += '\\';
    p += c;
  }
  p += '%';
  return p;
}

std::string project_select() { return std::string("SELECT ") + kColumns + " FROM projects"; }

std::vector<SqlCondition> project_conditions(const Actor& actor,
                                             const std::optional<std::string>& status,
                                             const std::optional<std::string>& search) {
  std::vector<SqlCondition> out;
  if (!actor.is_staff()) {
    out.push_back(
        {"EXISTS (SELECT 1 FROM evaluation_sheets s WHERE s.project_id = projects.id "
         "AND s.evaluator_id = ?)",
         {actor.user_id}});
  }
  if (status) out.push_back({"status = ?", {*status}});
  if (search) {
    const auto p = like_contains(*search);
    out.push_back(
        {"(LOWER(name) LIKE LOWER(?) ESCAPE '\\' OR "
         "LOWER(COALESCE(description, '')) LIKE LOWER(?) ESCAPE '\\')",
         {p, p}});
  }
  return out;
}

json::object project_json(const db::Rows& rows, std::size_t i) {
  json::object o;
  o["id"] = rows.text(i, "id");
  o["name"] = rows.text(i, "name");
  for (const auto* col : {"description", "start_date", "end_date", "deadline"}) {
    o[col] = text_or_null(rows, i, col);
  }
  o["status"] = rows.text(i, "status");
  o["created_by"] = text_or_null(rows, i, "created_by");
  o["created_at"] = rows.text(i, "created_at");
  o["updated_at"] = rows.text(i, "updated_at");
  return o;
}

Result<json::object> get_project(db::Tx& tx, const Actor& actor, std::string_view id) {
  if (!is_uuid(id)) return not_found("Project");
  std::string sql = project_select() + " WHERE id = $1";
  db::Params params{std::string(id)};
  if (!actor.is_staff()) {
    sql +=
        " AND EXISTS (SELECT 1 FROM evaluation_sheets s WHERE s.project_id = projects.id AND "
        "s.evaluator_id = $2)";
    params.emplace_back(actor.user_id);
  }
  auto rows = tx.query(sql, params);
  if (!rows) return std::move(rows).error();
  if (rows->empty()) return not_found("Project");
  return project_json(*rows, 0);
}

Status require_project(db::Tx& tx, std::string_view id) {
  if (!is_uuid(id)) return not_found("Project");
  auto rows = tx.query("SELECT id FROM projects WHERE id = $1", {std::string(id)});
  if (!rows) return std::move(rows).error();
  if (rows->empty()) return not_found("Project");
  return Ok{};
}

Result<json::object> create_project(db::Tx& tx, const Actor& actor, const ProjectFields& in,
                                    std::string_view now) {
  if (in.start_date && in.end_date && *in.end_date < *in.start_date) return date_order_error();
  const std::string id = new_uuid();
  auto r = tx.exec(
      "INSERT INTO projects (id, name, description, start_date, end_date, deadline, status, "
      "created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
      {id, in.name, value_or_null(in.description), value_or_null(in.start_date),
       value_or_null(in.end_date), value_or_null(in.deadline), in.status, actor.user_id,
       std::string(now)});
  if (!r) return std::move(r).error();
  return get_project(tx, actor, id);
}

Result<json::object> update_project(db::Tx& tx, std::string_view id, const ProjectPatch& patch,
                                    std::string_view now) {
  auto current = get_project(tx, Actor{"", "admin"}, id);
  if (!current) return std::move(current).error();
  auto merged = [&](const std::optional<std::optional<std::string>>& change,
                    const char* col) -> std::optional<std::string> {
    if (change) return *change;
    const auto& v = current->at(col);
    return v.is_string() ? std::optional<std::string>(std::string(v.as_string())) : std::nullopt;
  };
  const auto start = merged(patch.start_date, "start_date");
  const auto end = merged(patch.end_date, "end_date");
  if (start && end && *end < *start) return date_order_error();

  std::string sets;
  db::Params params;
  auto set = [&](const char* col, db::Value v) {
    params.push_back(std::move(v));
    sets += std::string(sets.empty() ? "" : ", ") + col + " = $" + std::to_string(params.size());
  };
  if (patch.name) set("name", *patch.name);
  if (patch.description) set("description", value_or_null(*patch.description));
  if (patch.start_date) set("start_date", value_or_null(*patch.start_date));
  if (patch.end_date) set("end_date", value_or_null(*patch.end_date));
  if (patch.deadline) set("deadline", value_or_null(*patch.deadline));
  if (patch.status) set("status", *patch.status);
  if (sets.empty()) return current;  // nothing to change: no write, updated_at stays
  set("updated_at", std::string(now));
  params.emplace_back(std::string(id));
  auto r = tx.exec("UPDATE projects SET " + sets + " WHERE id = $" + std::to_string(params.size()),
                   params);
  if (!r) return std::move(r).error();
  return get_project(tx, Actor{"", "admin"}, id);
}

Status delete_project(db::Tx& tx, std::string_view id) {
  if (auto st = require_project(tx, id); !st) return st;
  auto used = tx.query(
      "SELECT COUNT(*) AS n FROM evaluation_sheets WHERE project_id = $1 AND status IN "
      "('submitted', 'reviewed')",
      {std::string(id)});
  if (!used) return std::move(used).error();
  if (used->integer(0, "n") > 0) {
    return business(
        "The project has submitted evaluation sheets and cannot be deleted; close or archive it "
        "instead");
  }
  // Sheets first (their scores go with them): they also reference templates and users, which
  // the project's own cascade does not cover. Companies, files and templates cascade.
  if (auto r = tx.exec("DELETE FROM evaluation_sheets WHERE project_id = $1", {std::string(id)});
      !r) {
    return std::move(r).error();
  }
  auto r = tx.exec("DELETE FROM projects WHERE id = $1", {std::string(id)});
  if (!r) return std::move(r).error();
  return Ok{};
}

}  // namespace evald::domain
