#include "domain/companies.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "core/ids.hpp"

namespace evald::domain {
namespace {

namespace json = boost::json;

constexpr const char* kColumns =
    "id, project_id, name, registration_number, representative, address, contact_email, "
    "contact_phone, created_at, updated_at";

constexpr const char* kInsert =
    "INSERT INTO companies (id, project_id, name, registration_number, representative, address, "
    "contact_email, contact_phone, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)";

bool is_digit(char c) { return c >= '0' && c <= '9'; }

db::Value value_or_null(const std::optional<std::string>& v) {
  return v ? db::Value(*v) : db::null();
}

json::value json_or_null(const std::optional<std::string>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

FieldError already_registered(std::string field) {
  return FieldError{std::move(field), "Already registered in this project", "conflict.unique", {}};
}

// "companies[3]." -> "companies[3]", "row 5: " -> "row 5".
std::string item_name(std::string label) {
  while (!label.empty() && (label.back() == '.' || label.back() == ' ' || label.back() == ':')) {
    label.pop_back();
  }
  return label;
}

// Whether another company of the project already has the number.
Result<bool> number_taken(db::Tx& tx, std::string_view project_id, const std::string& number,
                          std::string_view except_id) {
  auto rows = tx.query(
      "SELECT id FROM companies WHERE project_id = $1 AND registration_number = $2 AND id <> $3",
      {std::string(project_id), number, std::string(except_id)});
  if (!rows) return std::move(rows).error();
  return !rows->empty();
}

json::object view(const std::string& id, std::string_view project_id, const CompanyFields& in,
                  std::string_view now) {
  json::object o;
  o["id"] = id;
  o["project_id"] = project_id;
  o["name"] = in.name;
  o["registration_number"] = in.registration_number;
  o["representative"] = json_or_null(in.representative);
  o["address"] = json_or_null(in.address);
  o["contact_email"] = json_or_null(in.contact_email);
  o["contact_phone"] = json_or_null(in.contact_phone);
  o["created_at"] = now;
  o["updated_at"] = now;
  return o;
}

db::Params insert_params(const std::string& id, std::string_view project_id,
                         const CompanyFields& in, std::string_view now) {
  return {id,
          std::string(project_id),
          in.name,
          in.registration_number,
          value_or_null(in.representative),
          value_or_null(in.address),
          value_or_null(in.contact_email),
          value_or_null(in.contact_phone),
          std::string(now)};
}

}  // namespace

bool registration_check_digit_ok(std::string_view d) {
  if (d.size() != 10 || !std::all_of(d.begin(), d.end(), is_digit)) return false;
  static constexpr int kWeights[9] = {1, 3, 7, 1, 3, 7, 1, 3, 5};
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += (d[i] - '0') * kWeights[i];
  sum += (d[8] - '0') * 5 / 10;
  return (10 - sum % 10) % 10 == d[9] - '0';
}

RegistrationCheck check_registration_number(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  std::string digits;
  if (s.size() == 10 && std::all_of(s.begin(), s.end(), is_digit)) {
    digits.assign(s);
  } else if (s.size() == 12 && s[3] == '-' && s[6] == '-') {
    digits = std::string(s.substr(0, 3)) + std::string(s.substr(4, 2)) + std::string(s.substr(7));
    if (!std::all_of(digits.begin(), digits.end(), is_digit)) digits.clear();
  }
  if (digits.empty()) {
    return {{},
            "Must be a business registration number: 10 digits, NNN-NN-NNNNN or without hyphens",
            "value_error.registration_number"};
  }
  if (!registration_check_digit_ok(digits)) {
    return {{},
            "Not a valid business registration number (the check digit does not match)",
            "value_error.registration_number.check_digit"};
  }
  return {digits.substr(0, 3) + "-" + digits.substr(3, 2) + "-" + digits.substr(5), {}, {}};
}

std::string company_select() { return std::string("SELECT ") + kColumns + " FROM companies"; }

std::vector<SqlCondition> company_conditions(std::string_view project_id,
                                             const std::optional<std::string>& search) {
  std::vector<SqlCondition> out;
  out.push_back({"project_id = ?", {std::string(project_id)}});
  if (search) {
    const auto p = like_contains(*search);
    std::string sql =
        "(LOWER(name) LIKE LOWER(?) ESCAPE '\\' OR registration_number LIKE ? ESCAPE '\\' OR "
        "LOWER(COALESCE(representative, '')) LIKE LOWER(?) ESCAPE '\\'";
    std::vector<db::Value> values{p, p, p};
    // A number typed without its hyphens still finds the company.
    std::string digits;
    for (char c : *search) {
      if (is_digit(c)) digits += c;
    }
    const bool numberish =
        std::all_of(search->begin(), search->end(), [](char c) { return is_digit(c) || c == '-'; });
    if (numberish && !digits.empty()) {
      sql += " OR REPLACE(registration_number, '-', '') LIKE ?";
      values.emplace_back("%" + digits + "%");
    }
    out.push_back({sql + ")", std::move(values)});
  }
  return out;
}

json::object company_json(const db::Rows& rows, std::size_t i) {
  json::object o;
  o["id"] = rows.text(i, "id");
  o["project_id"] = rows.text(i, "project_id");
  o["name"] = rows.text(i, "name");
  o["registration_number"] = rows.text(i, "registration_number");
  for (const auto* col : {"representative", "address", "contact_email", "contact_phone"}) {
    o[col] = text_or_null(rows, i, col);
  }
  o["created_at"] = rows.text(i, "created_at");
  o["updated_at"] = rows.text(i, "updated_at");
  return o;
}

Result<json::object> get_company(db::Tx& tx, const Actor& actor, std::string_view id) {
  if (!is_uuid(id)) return not_found("Company");
  std::string sql = company_select() + " WHERE id = $1";
  db::Params params{std::string(id)};
  if (!actor.is_staff()) {
    sql +=
        " AND EXISTS (SELECT 1 FROM evaluation_sheets s WHERE s.company_id = companies.id AND "
        "s.evaluator_id = $2)";
    params.emplace_back(actor.user_id);
  }
  auto rows = tx.query(sql, params);
  if (!rows) return std::move(rows).error();
  if (rows->empty()) return not_found("Company");
  return company_json(*rows, 0);
}

Result<json::object> create_company(db::Tx& tx, std::string_view project_id,
                                    const CompanyFields& in, std::string_view now) {
  if (auto st = require_project(tx, project_id); !st) return std::move(st).error();
  auto taken = number_taken(tx, project_id, in.registration_number, "");
  if (!taken) return std::move(taken).error();
  if (*taken) {
    return conflict("A company with this registration number is already in the project",
                    {already_registered("registration_number")});
  }
  const std::string id = new_uuid();
  if (auto r = tx.exec(kInsert, insert_params(id, project_id, in, now)); !r) {
    return std::move(r).error();
  }
  return view(id, project_id, in, now);
}

Result<json::array> create_companies(db::Tx& tx, std::string_view project_id,
                                     const std::vector<CompanyFields>& items,
                                     const std::vector<std::string>& labels, std::string_view now) {
  if (auto st = require_project(tx, project_id); !st) return std::move(st).error();
  auto existing = tx.query("SELECT registration_number FROM companies WHERE project_id = $1",
                           {std::string(project_id)});
  if (!existing) return std::move(existing).error();
  std::unordered_set<std::string> taken;
  for (std::size_t i = 0; i < existing->size(); ++i) {
    taken.insert(existing->text(i, "registration_number"));
  }
  std::vector<FieldError> conflicts;
  std::unordered_map<std::string, std::size_t> first_at;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& number = items[i].registration_number;
    const std::string field = labels[i] + "registration_number";
    if (taken.count(number)) {
      conflicts.push_back(already_registered(field));
    } else if (auto [it, fresh] = first_at.emplace(number, i); !fresh) {
      conflicts.push_back(
          FieldError{field, "Repeats " + item_name(labels[it->second]), "conflict.duplicate", {}});
    }
  }
  if (!conflicts.empty()) {
    return conflict("Registration numbers repeat within the batch or are already in the project",
                    std::move(conflicts));
  }
  std::vector<db::Params> rows;
  rows.reserve(items.size());
  json::array out;
  out.reserve(items.size());
  for (const auto& in : items) {
    const std::string id = new_uuid();
    rows.push_back(insert_params(id, project_id, in, now));
    out.push_back(view(id, project_id, in, now));
  }
  if (auto st = tx.exec_many(kInsert, rows); !st) return std::move(st).error();
  return out;
}

Result<json::object> update_company(db::Tx& tx, std::string_view id, const CompanyPatch& patch,
                                    std::string_view now) {
  auto current = get_company(tx, Actor{"", "admin"}, id);
  if (!current) return std::move(current).error();
  if (patch.registration_number &&
      *patch.registration_number != current->at("registration_number").as_string()) {
    auto taken =
        number_taken(tx, current->at("project_id").as_string(), *patch.registration_number, id);
    if (!taken) return std::move(taken).error();
    if (*taken) {
      return conflict("A company with this registration number is already in the project",
                      {already_registered("registration_number")});
    }
  }
  std::string sets;
  db::Params params;
  auto set = [&](const char* col, db::Value v) {
    params.push_back(std::move(v));
    sets += std::string(sets.empty() ? "" : ", ") + col + " = $" + std::to_string(params.size());
  };
  if (patch.name) set("name", *patch.name);
  if (patch.registration_number) set("registration_number", *patch.registration_number);
  if (patch.representative) set("representative", value_or_null(*patch.representative));
  if (patch.address) set("address", value_or_null(*patch.address));
  if (patch.contact_email) set("contact_email", value_or_null(*patch.contact_email));
  if (patch.contact_phone) set("contact_phone", value_or_null(*patch.contact_phone));
  if (sets.empty()) return current;  // nothing to change: no write, updated_at stays
  set("updated_at", std::string(now));
  params.emplace_back(std::string(id));
  auto r = tx.exec("UPDATE companies SET " + sets + " WHERE id = $" + std::to_string(params.size()),
                   params);
  if (!r) return std::move(r).error();
  return get_company(tx, Actor{"", "admin"}, id);
}

Status delete_company(db::Tx& tx, std::string_view id) {
  if (!is_uuid(id)) return not_found("Company");
  auto found = tx.query("SELECT id FROM companies WHERE id = $1", {std::string(id)});
  if (!found) return std::move(found).error();
  if (found->empty()) return not_found("Company");
  auto used = tx.query(
      "SELECT COUNT(*) AS n FROM evaluation_sheets WHERE company_id = $1 AND status IN "
      "('submitted', 'reviewed')",
      {std::string(id)});
  if (!used) return std::move(used).error();
  if (used->integer(0, "n") > 0) {
    return business("The company has submitted evaluation sheets and cannot be deleted");
  }
  if (auto r = tx.exec("DELETE FROM evaluation_sheets WHERE company_id = $1", {std::string(id)});
      !r) {
    return std::move(r).error();
  }
  auto r = tx.exec("DELETE FROM companies WHERE id = $1", {std::string(id)});
  if (!r) return std::move(r).error();
  return Ok{};
}

}  // namespace evald::domain
