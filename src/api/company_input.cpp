// Reading the input of the company routes: one company's fields, a patch, and the batch import
// from JSON, a CSV body or a multipart CSV upload (docs/DOMAIN.md, "Companies").

#include "api/company_input.hpp"

#include "api/domain_kit.hpp"
#include "domain/csv.hpp"
#include "domain/projects.hpp"

namespace evald::api::company_input {
namespace {
constexpr std::size_t kMaxCsvFieldBytes = 8 * 1024;
}  // namespace

using namespace fields;

std::string read_registration_number(http::Fields& f) {
  const auto before = f.errors().size();
  auto s = f.required_string("registration_number", 1, 32);
  if (f.errors().size() != before) return s;
  const auto check = dm::check_registration_number(s);
  if (!check.ok()) {
    f.fail("registration_number", check.message, check.code);
    return s;
  }
  return check.value;
}

std::optional<std::string> read_email(http::Fields& f) {
  auto s = read_string(f, "contact_email", dm::kContactEmailMax);
  if (!s) return s;
  for (auto& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!http::is_valid_email(*s))
    f.fail("contact_email", "Invalid email format", "value_error.email");
  return s;
}

std::optional<std::string> read_phone(http::Fields& f) {
  auto s = read_string(f, "contact_phone", dm::kContactPhoneMax);
  if (!s) return s;
  const auto digits =
      std::count_if(s->begin(), s->end(), [](char c) { return c >= '0' && c <= '9'; });
  if (s->find_first_not_of("0123456789+-(). ") != std::string::npos || digits < 2) {
    f.fail("contact_phone", "Must be a phone number: digits, spaces and + - ( ) .",
           "value_error.phone");
  }
  return s;
}

// PATCH of an optional field: absent (outer nullopt), null (inner nullopt: clear), or a value.
const std::initializer_list<std::string_view> kCompanyKeys = {
    "name", "registration_number", "representative", "address", "contact_email", "contact_phone"};

dm::CompanyFields read_company(http::Fields& f) {
  f.reject_unknown(kCompanyKeys);
  dm::CompanyFields c;
  c.name = read_name(f, "name", dm::kCompanyNameMax);
  c.registration_number = read_registration_number(f);
  c.representative = read_text(f, "representative", dm::kRepresentativeMax);
  c.address = read_text(f, "address", dm::kAddressMax);
  c.contact_email = read_email(f);
  c.contact_phone = read_phone(f);
  return c;
}

dm::CompanyPatch read_company_patch(const json::object& o, http::Fields& f) {
  f.reject_unknown(kCompanyKeys);
  dm::CompanyPatch c;
  c.name = required_change(o, f, "name", [&] { return read_name(f, "name", dm::kCompanyNameMax); });
  c.registration_number =
      required_change(o, f, "registration_number", [&] { return read_registration_number(f); });
  c.representative = change(o, "representative",
                            [&] { return read_text(f, "representative", dm::kRepresentativeMax); });
  c.address = change(o, "address", [&] { return read_text(f, "address", dm::kAddressMax); });
  c.contact_email = change(o, "contact_email", [&] { return read_email(f); });
  c.contact_phone = change(o, "contact_phone", [&] { return read_phone(f); });
  return c;
}

void add_prefixed(std::vector<FieldError>& out, const std::vector<FieldError>& errors,
                  const std::string& prefix) {
  for (auto e : errors) {
    e.field = prefix + e.field;
    out.push_back(std::move(e));
  }
}

// `search`: at most kSearchMax characters of UTF-8; empty means no filter.
// A name from the client for a field of an error: valid UTF-8, at most 64 bytes.
std::string safe_label(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && out.size() < 64;) {
    std::size_t n = 1;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0xf0)
      n = 4;
    else if (c >= 0xe0)
      n = 3;
    else if (c >= 0xc0)
      n = 2;
    const auto piece = s.substr(i, n);
    if (http::utf8_length(piece) && (c >= 0x20 || n > 1) && c != 0x7f) {
      out.append(piece);
    } else {
      out += '?';
    }
    i += n;
  }
  return out;
}

std::string lower_trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t");
  std::string out(s.substr(b, e - b + 1));
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

FieldError too_many_rows() {
  return {"file",
          "At most " + std::to_string(dm::kCompanyBatchMax) +
              " companies in one import (rows after the header)",
          "value_error.list.max_items", std::nullopt};
}

std::string row_label(std::size_t row) { return "row " + std::to_string(row); }

// The CSV import: a header row naming the columns (any order; name and registration_number
// required), then one company per row. Rows are numbered as a spreadsheet shows them (the
// header is row 1); blank rows are skipped.
void read_company_csv(std::string_view data, std::vector<dm::CompanyFields>& items,
                      std::vector<std::string>& labels, std::vector<FieldError>& problems) {
  // Blank rows do not count against the batch limit, but the reader's own limit keeps a body of
  // line breaks from becoming millions of records.
  dm::CsvLimits limits;
  limits.max_records = 2 * (dm::kCompanyBatchMax + 1);
  limits.max_fields = 64;
  limits.max_field_bytes = kMaxCsvFieldBytes;
  const auto csv = dm::read_csv(data, limits);
  if (csv.error) {
    if (csv.error->row > limits.max_records) {
      problems.push_back(too_many_rows());
    } else {
      problems.push_back({row_label(csv.error->row), csv.error->message, csv.error->code, {}});
    }
    return;
  }
  const auto& records = csv.records;
  auto header = std::find_if(records.begin(), records.end(), [](auto& r) { return !r.blank(); });
  if (header == records.end()) {
    problems.push_back({"file", "The file is empty: a header row is expected",
                        "value_error.csv.header", std::nullopt});
    return;
  }
  const std::string h = row_label(header->row) + ": ";
  const auto problems_before = problems.size();
  std::vector<std::string> columns;  // "" for a column without a name (left empty by some tools)
  for (const auto& cell : header->fields) {
    auto key = lower_trim(cell);
    const bool known = key.empty() || std::find(std::begin(dm::kCompanyFieldNames),
                                                std::end(dm::kCompanyFieldNames),
                                                key) != std::end(dm::kCompanyFieldNames);
    if (!known) {
      problems.push_back({h + safe_label(key), "Unknown column", "value_error.extra", {}});
    } else if (!key.empty() && std::find(columns.begin(), columns.end(), key) != columns.end()) {
      problems.push_back({h + key, "Column given twice", "value_error.csv.header", {}});
    }
    columns.push_back(std::move(key));
  }
  for (const char* required : {"name", "registration_number"}) {
    if (std::find(columns.begin(), columns.end(), required) == columns.end()) {
      problems.push_back({h + required, "Column required", "value_error.missing", {}});
    }
  }
  if (problems.size() != problems_before) return;
  const auto rows = std::count_if(header + 1, records.end(), [](auto& r) { return !r.blank(); });
  if (static_cast<std::size_t>(rows) > dm::kCompanyBatchMax) {
    problems.push_back(too_many_rows());
    return;
  }
  for (auto rec = header + 1; rec != records.end(); ++rec) {
    if (rec->blank()) continue;
    const std::string label = row_label(rec->row);
    if (rec->fields.size() > columns.size()) {
      problems.push_back({label,
                          "Has " + std::to_string(rec->fields.size()) +
                              " fields but the header names " + std::to_string(columns.size()),
                          "value_error.csv.fields", std::nullopt});
      continue;
    }
    json::object o;
    bool stray = false;
    for (std::size_t j = 0; j < rec->fields.size(); ++j) {
      if (rec->fields[j].empty()) continue;
      if (columns[j].empty()) {
        stray = true;
      } else {
        o[columns[j]] = rec->fields[j];
      }
    }
    if (stray) {
      problems.push_back({label, "A value in a column the header does not name",
                          "value_error.csv.fields", std::nullopt});
    }
    http::Fields f(o);
    items.push_back(read_company(f));
    labels.push_back(label + ": ");
    add_prefixed(problems, f.errors(), labels.back());
  }
  if (items.empty() && problems.size() == problems_before) {
    problems.push_back({"file", "No companies in the file (only a header row)",
                        "value_error.list.min_items", std::nullopt});
  }
}

void check_project_id(std::string_view field, const std::optional<std::string>& id,
                      std::vector<FieldError>& problems) {
  if (!id || id->empty()) {
    problems.push_back({std::string(field), "Field required", "value_error.missing", {}});
  } else if (!dm::is_uuid(*id)) {
    problems.push_back({std::string(field), "Must be a project id (UUID)", "value_error.uuid", {}});
  }
}

std::string media_type(const Request& req) {
  return lower_trim(req.headers.get("Content-Type")
                        .value_or("")
                        .substr(0, req.headers.get("Content-Type").value_or("").find(';')));
}

// A charset parameter other than UTF-8 is refused (the import reads UTF-8 only).
bool utf8_charset(const Request& req) {
  const auto ct = lower_trim(req.headers.get("Content-Type").value_or(""));
  const auto at = ct.find("charset=");
  if (at == std::string::npos) return true;
  auto cs = ct.substr(at + 8);
  cs = cs.substr(0, cs.find(';'));
  std::erase(cs, '"');
  return lower_trim(cs) == "utf-8" || lower_trim(cs) == "utf8";
}

void read_json_batch(const json::object& o, BatchInput& in) {
  http::Fields top(o);
  top.reject_unknown({"project_id", "companies"});
  if (!o.contains("companies") || o.at("companies").is_null()) {
    top.fail("companies", "Field required", "value_error.missing");
  }
  const json::array* list = top.optional_array("companies", dm::kCompanyBatchMax);
  if (list && list->empty()) {
    top.fail("companies", "At least one company", "value_error.list.min_items");
  }
  in.problems = top.errors();
  const auto* id = o.if_contains("project_id");
  if (id && !id->is_null() && !id->is_string()) {
    in.problems.push_back({"project_id", "Must be a string", "type_error.str", std::nullopt});
  } else {
    if (id && id->is_string()) in.project_id = std::string(id->as_string());
    check_project_id("project_id", in.project_id, in.problems);
  }
  if (!list) return;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string label = "companies[" + std::to_string(i) + "]";
    const auto& v = (*list)[i];
    if (!v.is_object()) {
      in.problems.push_back({label, "Must be an object", "type_error.object", std::nullopt});
      continue;
    }
    http::Fields f(v.as_object());
    in.items.push_back(read_company(f));
    in.labels.push_back(label + ".");
    add_prefixed(in.problems, f.errors(), in.labels.back());
  }
}

void read_multipart_batch(const std::vector<http::FormPart>& parts, BatchInput& in) {
  const http::FormPart* file = nullptr;
  std::size_t project_parts = 0;
  for (const auto& p : parts) {
    if (p.name == "project_id") {
      ++project_parts;
      in.project_id = lower_trim(p.data);
    } else if (p.name == "file") {
      if (file) {
        in.problems.push_back({"file", "Send one file", "value_error.multipart", {}});
      }
      file = &p;
    } else {
      in.problems.push_back({safe_label(p.name), "Unknown field", "value_error.extra", {}});
    }
  }
  if (project_parts > 1) {
    in.problems.push_back({"project_id", "Given more than once", "value_error.multipart", {}});
  } else {
    check_project_id("project_id", in.project_id, in.problems);
  }
  if (!file) {
    in.problems.push_back({"file", "Field required", "value_error.missing", {}});
    return;
  }
  read_company_csv(file->data, in.items, in.labels, in.problems);
}

}  // namespace evald::api::company_input
