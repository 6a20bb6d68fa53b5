#include "domain/templates.hpp"

#include <boost/json.hpp>
#include <cmath>
#include <map>

#include "core/ids.hpp"
#include "core/time_format.hpp"

namespace evald::domain {
namespace {

namespace json = boost::json;

const char* const kItemColumns =
    "id, template_id, name, description, min_score, max_score, weight, bonus, category, "
    "is_required, sort_order";

const char* const kInsertItem =
    "INSERT INTO template_items (id, template_id, name, description, min_score, max_score, "
    "weight, bonus, category, is_required, sort_order) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

// Sheets whose scores were handed in at some time (a reopened sheet keeps its submitted_at):
// their template's items are history and never change.
const char* const kUsedBySubmitted =
    "SELECT COUNT(*) AS n FROM evaluation_sheets WHERE template_id = $1 AND "
    "(status IN ('submitted', 'reviewed') OR submitted_at IS NOT NULL)";

db::Value opt_text(const std::optional<std::string>& v) { return v ? db::Value(*v) : db::null(); }

// Whole numbers as integers ("1", not Boost.JSON's "1E0"), others as doubles.
json::value number(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) {
    return json::value(static_cast<std::int64_t>(v));
  }
  return json::value(v);
}

json::object item_json(const db::Rows& rows, std::size_t i) {
  json::object o;
  o["id"] = rows.text(i, "id");
  o["name"] = rows.text(i, "name");
  o["description"] = text_or_null(rows, i, "description");
  o["min_score"] = number(rows.real(i, "min_score"));
  o["max_score"] = number(rows.real(i, "max_score"));
  o["weight"] = number(rows.real(i, "weight"));
  o["is_required"] = rows.integer(i, "is_required") != 0;
  o["category"] = text_or_null(rows, i, "category");
  o["bonus"] = rows.integer(i, "bonus") != 0;
  o["order"] = rows.integer(i, "sort_order");
  return o;
}

json::object template_row_json(const db::Rows& rows, std::size_t i) {
  json::object o;
  o["id"] = rows.text(i, "id");
  o["name"] = rows.text(i, "name");
  o["description"] = text_or_null(rows, i, "description");
  o["project_id"] = text_or_null(rows, i, "project_id");
  o["status"] = rows.text(i, "status");
  o["version"] = rows.integer(i, "version");
  o["parent_id"] = text_or_null(rows, i, "parent_id");
  o["items"] = json::array();
  o["created_by"] = text_or_null(rows, i, "created_by");
  o["created_at"] = rows.text(i, "created_at");
  o["updated_at"] = rows.text(i, "updated_at");
  return o;
}

// 422 naming the field at fault.
ApiError business_field(std::string message, std::string field, std::string detail,
                        std::string code) {
  ApiError e = business(std::move(message));
  e.details.push_back({std::move(field), std::move(detail), std::move(code), std::nullopt});
  return e;
}

Status check_project(db::Tx& tx, const std::string& project_id) {
  auto rows = tx.query("SELECT id FROM projects WHERE id = $1", {project_id});
  if (!rows) return std::move(rows).error();
  if (rows->empty()) {
    return business_field("The project does not exist", "project_id", "No such project",
                          "value_error.project_id");
  }
  return Ok{};
}

Status insert_items(db::Tx& tx, const std::string& template_id,
                    const std::vector<TemplateItemInput>& items) {
  std::vector<db::Params> rows;
  rows.reserve(items.size());
  std::int64_t order = 0;
  for (const auto& it : items) {
    rows.push_back({new_uuid(), template_id, it.name, opt_text(it.description), it.min_score,
                    it.max_score, it.weight, std::int64_t{it.bonus ? 1 : 0}, opt_text(it.category),
                    std::int64_t{it.is_required ? 1 : 0}, ++order});
  }
  return tx.exec_many(kInsertItem, rows);
}

// Takes the template's row lock (PostgreSQL; SQLite's writer holds the database already) so that
// status checks and the changes they allow cannot interleave with another writer. false: absent.
Result<bool> lock_template(db::Tx& tx, std::string_view id) {
  auto n = tx.exec("UPDATE templates SET updated_at = updated_at WHERE id = $1", {std::string(id)});
  if (!n) return std::move(n).error();
  return *n > 0;
}

Result<db::Rows> template_row(db::Tx& tx, std::string_view id) {
  return tx.query(std::string("SELECT ") + kTemplateColumns + " FROM templates WHERE id = $1",
                  {std::string(id)});
}

Result<std::int64_t> count(db::Tx& tx, const char* sql, const db::Params& params) {
  auto rows = tx.query(sql, params);
  if (!rows) return std::move(rows).error();
  return rows->integer(0, "n");
}

Result<json::object> load_or_404(db::Tx& tx, std::string_view id) {
  auto t = load_template(tx, id);
  if (!t) return std::move(t).error();
  if (!*t) return not_found("Template");
  return std::move(**t);
}

// Runs a state change of one template under its row lock: `fn(tx, row)` gets the current row.
template <class Fn>
Result<json::object> change(db::Database& db, std::string_view id, Fn fn) {
  if (!is_uuid(id)) return not_found("Template");
  std::optional<json::object> out;
  auto st = db.write([&](db::Tx& tx) -> Status {
    auto locked = lock_template(tx, id);
    if (!locked) return std::move(locked).error();
    if (!*locked) return not_found("Template");
    auto row = template_row(tx, id);
    if (!row) return std::move(row).error();
    if (auto s = fn(tx, *row); !s) return s;
    auto t = load_or_404(tx, id);
    if (!t) return std::move(t).error();
    out = std::move(*t);
    return Ok{};
  });
  if (!st) return st.error();
  return std::move(*out);
}

}  // namespace

const char* const kTemplateColumns =
    "id, project_id, name, description, status, version, parent_id, created_by, created_at, "
    "updated_at";

Result<std::optional<json::object>> load_template(db::Tx& tx, std::string_view id) {
  auto rows = template_row(tx, id);
  if (!rows) return std::move(rows).error();
  if (rows->empty()) return std::optional<json::object>{};
  auto list = templates_json(tx, *rows, 1);
  if (!list) return std::move(list).error();
  return std::optional<json::object>(std::move((*list)[0].as_object()));
}

Result<std::vector<TemplateItem>> load_template_items(db::Tx& tx, std::string_view template_id) {
  auto rows = tx.query(std::string("SELECT ") + kItemColumns +
                           " FROM template_items WHERE template_id = $1 ORDER BY sort_order",
                       {std::string(template_id)});
  if (!rows) return std::move(rows).error();
  std::vector<TemplateItem> items;
  items.reserve(rows->size());
  for (std::size_t i = 0; i < rows->size(); ++i) {
    TemplateItem it;
    it.id = rows->text(i, "id");
    it.name = rows->text(i, "name");
    it.min_score = rows->real(i, "min_score");
    it.max_score = rows->real(i, "max_score");
    it.weight = rows->real(i, "weight");
    it.is_required = rows->integer(i, "is_required") != 0;
    it.bonus = rows->integer(i, "bonus") != 0;
    it.order = static_cast<int>(rows->integer(i, "sort_order"));
    items.push_back(std::move(it));
  }
  return items;
}

Result<json::array> templates_json(db::Tx& tx, const db::Rows& rows, std::size_t n) {
  n = std::min(n, rows.size());
  json::array out;
  if (n == 0) return out;
  std::string in;
  db::Params params;
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(template_row_json(rows, i));
    params.push_back(rows.text(i, "id"));
    index[rows.text(i, "id")] = i;
    in += (i ? ", $" : "$") + std::to_string(i + 1);
  }
  auto items = tx.query(std::string("SELECT ") + kItemColumns +
                            " FROM template_items WHERE template_id IN (" + in +
                            ") ORDER BY template_id, sort_order",
                        params);
  if (!items) return std::move(items).error();
  for (std::size_t i = 0; i < items->size(); ++i) {
    auto it = index.find(items->text(i, "template_id"));
    if (it == index.end()) continue;
    out[it->second].as_object()["items"].as_array().push_back(item_json(*items, i));
  }
  return out;
}

Result<json::object> create_template(db::Database& db, const Clock& clock, const Actor& actor,
                                     const TemplateInput& in) {
  const std::string id = new_uuid();
  const std::string now = format_iso8601(clock.now(), true);
  std::optional<json::object> out;
  auto st = db.write([&](db::Tx& tx) -> Status {
    if (in.project_id) {
      if (auto s = check_project(tx, *in.project_id); !s) return s;
    }
    auto ins = tx.exec(
        "INSERT INTO templates (id, project_id, name, description, status, version, parent_id, "
        "created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, 'draft', 1, NULL, $5, $6, $6)",
        {id, opt_text(in.project_id), in.name, opt_text(in.description), actor.user_id, now});
    if (!ins) return std::move(ins).error();
    if (auto s = insert_items(tx, id, in.items); !s) return s;
    auto t = load_or_404(tx, id);
    if (!t) return std::move(t).error();
    out = std::move(*t);
    return Ok{};
  });
  if (!st) return st.error();
  return std::move(*out);
}

Result<json::object> get_template(db::Database& db, std::string_view id) {
  if (!is_uuid(id)) return not_found("Template");
  std::optional<json::object> out;
  auto st = db.read([&](db::Tx& tx) -> Status {
    auto t = load_or_404(tx, id);
    if (!t) return std::move(t).error();
    out = std::move(*t);
    return Ok{};
  });
  if (!st) return st.error();
  return std::move(*out);
}

Result<json::object> update_template(db::Database& db, const Clock& clock, std::string_view id,
                                     const TemplatePatch& patch) {
  const std::string now = format_iso8601(clock.now(), true);
  const std::string tid(id);
  return change(db, id, [&](db::Tx& tx, const db::Rows& row) -> Status {
    const std::string status = row.text(0, "status");
    if (status == "archived") {
      return business("An archived template does not change; copy it to make a new draft");
    }
    auto used = count(tx, kUsedBySubmitted, {tid});
    if (!used) return std::move(used).error();
    if (*used > 0 && !patch.empty()) {
      return business("This template is used by " + std::to_string(*used) +
                      " submitted evaluation sheet(s) and no longer changes; copy it to make a "
                      "new draft");
    }
    if (status == "active" && patch.items && !patch.back_to_draft) {
      return business_field(
          "Only a draft template's items change: send \"status\": \"draft\" with them, or copy "
          "the template",
          "items", "The template is active", "value_error.template_status");
    }
    std::optional<std::string> project_id =
        row.null_at(0, "project_id") ? std::nullopt : std::optional(row.text(0, "project_id"));
    if (patch.project_id) {
      project_id = *patch.project_id;
      if (project_id) {
        if (auto s = check_project(tx, *project_id); !s) return s;
        auto elsewhere = count(tx,
                               "SELECT COUNT(*) AS n FROM evaluation_sheets WHERE template_id = $1 "
                               "AND project_id <> $2",
                               {tid, *project_id});
        if (!elsewhere) return std::move(elsewhere).error();
        if (*elsewhere > 0) {
          return business_field("Sheets of another project use this template", "project_id",
                                "The template is assigned in another project",
                                "value_error.project_id");
        }
      }
    }
    const std::string name = patch.name.value_or(row.text(0, "name"));
    std::optional<std::string> description =
        row.null_at(0, "description") ? std::nullopt : std::optional(row.text(0, "description"));
    if (patch.description) description = *patch.description;
    const std::string next_status = patch.back_to_draft ? "draft" : status;
    auto upd = tx.exec(
        "UPDATE templates SET name = $2, description = $3, project_id = $4, status = $5, "
        "updated_at = $6 WHERE id = $1",
        {tid, name, opt_text(description), opt_text(project_id), next_status, now});
    if (!upd) return std::move(upd).error();
    if (patch.items) {
      // Drafts saved against the old items lose those scores; their sheets' versions move on so
      // that an evaluator's stale page is refused rather than saved against items that are gone.
      auto del_scores = tx.exec(
          "DELETE FROM scores WHERE item_id IN (SELECT id FROM template_items WHERE template_id = "
          "$1)",
          {tid});
      if (!del_scores) return std::move(del_scores).error();
      auto bump = tx.exec(
          "UPDATE evaluation_sheets SET version = version + 1, updated_at = $2 WHERE "
          "template_id = $1",
          {tid, now});
      if (!bump) return std::move(bump).error();
      auto del = tx.exec("DELETE FROM template_items WHERE template_id = $1", {tid});
      if (!del) return std::move(del).error();
      if (auto s = insert_items(tx, tid, *patch.items); !s) return s;
    }
    return Ok{};
  });
}

Status delete_template(db::Database& db, std::string_view id) {
  if (!is_uuid(id)) return not_found("Template");
  const std::string tid(id);
  return db.write([&](db::Tx& tx) -> Status {
    auto locked = lock_template(tx, id);
    if (!locked) return std::move(locked).error();
    if (!*locked) return not_found("Template");
    auto used =
        count(tx, "SELECT COUNT(*) AS n FROM evaluation_sheets WHERE template_id = $1", {tid});
    if (!used) return std::move(used).error();
    if (*used > 0) {
      return business("This template is used by " + std::to_string(*used) +
                      " evaluation sheet(s); archive it instead");
    }
    auto items = tx.exec("DELETE FROM template_items WHERE template_id = $1", {tid});
    if (!items) return std::move(items).error();
    auto del = tx.exec("DELETE FROM templates WHERE id = $1", {tid});
    if (!del) return std::move(del).error();
    return Ok{};
  });
}

Result<json::object> activate_template(db::Database& db, const Clock& clock, std::string_view id) {
  const std::string now = format_iso8601(clock.now(), true);
  const std::string tid(id);
  return change(db, id, [&](db::Tx& tx, const db::Rows& row) -> Status {
    const std::string status = row.text(0, "status");
    if (status != "draft") {
      return business("Only a draft template can be activated; this one is " + status);
    }
    auto items =
        count(tx, "SELECT COUNT(*) AS n FROM template_items WHERE template_id = $1", {tid});
    if (!items) return std::move(items).error();
    if (*items == 0) return business("A template needs at least one item to be activated");
    auto upd = tx.exec("UPDATE templates SET status = 'active', updated_at = $2 WHERE id = $1",
                       {tid, now});
    if (!upd) return std::move(upd).error();
    return Ok{};
  });
}

Result<json::object> archive_template(db::Database& db, const Clock& clock, std::string_view id) {
  const std::string now = format_iso8601(clock.now(), true);
  const std::string tid(id);
  return change(db, id, [&](db::Tx& tx, const db::Rows& row) -> Status {
    if (row.text(0, "status") == "archived") return business("The template is archived already");
    auto upd = tx.exec("UPDATE templates SET status = 'archived', updated_at = $2 WHERE id = $1",
                       {tid, now});
    if (!upd) return std::move(upd).error();
    return Ok{};
  });
}

Result<json::object> copy_template(db::Database& db, const Clock& clock, const Actor& actor,
                                   std::string_view id, const TemplateCopyInput& in) {
  if (!is_uuid(id)) return not_found("Template");
  const std::string now = format_iso8601(clock.now(), true);
  const std::string copy_id = new_uuid();
  std::optional<json::object> out;
  auto st = db.write([&](db::Tx& tx) -> Status {
    auto row = template_row(tx, id);
    if (!row) return std::move(row).error();
    if (row->empty()) return not_found("Template");
    std::optional<std::string> project_id =
        row->null_at(0, "project_id") ? std::nullopt : std::optional(row->text(0, "project_id"));
    if (in.project_id) {
      project_id = *in.project_id;
      if (project_id) {
        if (auto s = check_project(tx, *project_id); !s) return s;
      }
    }
    auto ins = tx.exec(
        "INSERT INTO templates (id, project_id, name, description, status, version, parent_id, "
        "created_by, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, 'draft', $5, $6, $7, $8, $8)",
        {copy_id, opt_text(project_id), in.name.value_or(row->text(0, "name")),
         row->null_at(0, "description") ? db::null() : db::Value(row->text(0, "description")),
         row->integer(0, "version") + 1, std::string(id), actor.user_id, now});
    if (!ins) return std::move(ins).error();
    auto items = tx.query(std::string("SELECT ") + kItemColumns +
                              " FROM template_items WHERE template_id = $1 ORDER BY sort_order",
                          {std::string(id)});
    if (!items) return std::move(items).error();
    std::vector<db::Params> copies;
    for (std::size_t i = 0; i < items->size(); ++i) {
      const auto& r = items->rows[i];
      db::Params p(r.begin(), r.end());  // the columns of kItemColumns, in order
      p[0] = new_uuid();
      p[1] = copy_id;
      copies.push_back(std::move(p));
    }
    if (auto s = tx.exec_many(kInsertItem, copies); !s) return s;
    auto t = load_or_404(tx, copy_id);
    if (!t) return std::move(t).error();
    out = std::move(*t);
    return Ok{};
  });
  if (!st) return st.error();
  return std::move(*out);
}

}  // namespace evald::domain
