#pragma once
/// Reading the input of the company routes (company_routes.cpp): field-level problems are
/// collected, never thrown, so that one answer lists them all.

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "domain/companies.hpp"
#include "http/body.hpp"
#include "http/message.hpp"
#include "http/multipart.hpp"

namespace evald::api::company_input {

namespace dm = evald::domain;
namespace json = boost::json;
using http::Request;

/// A company's fields from a JSON object (POST, and each item of a JSON batch).
dm::CompanyFields read_company(http::Fields& f);
/// The fields present in `o` (PATCH).
dm::CompanyPatch read_company_patch(const json::object& o, http::Fields& f);
/// The CSV import: a header row naming the columns, then one company per row (rows numbered as
/// a spreadsheet shows them); problems are labelled by row.
void read_company_csv(std::string_view data, std::vector<dm::CompanyFields>& items,
                      std::vector<std::string>& labels, std::vector<FieldError>& problems);
/// A problem when `id` is missing or not a UUID.
void check_project_id(std::string_view field, const std::optional<std::string>& id,
                      std::vector<FieldError>& problems);
/// The request's media type, lower case, without parameters.
std::string media_type(const Request& req);
/// Whether the Content-Type's charset (if any) is UTF-8.
bool utf8_charset(const Request& req);

/// A batch import, from whichever form it came in.
struct BatchInput {
  std::optional<std::string> project_id;
  std::vector<dm::CompanyFields> items;
  std::vector<std::string> labels;
  std::vector<FieldError> problems;
};
void read_json_batch(const json::object& o, BatchInput& in);
void read_multipart_batch(const std::vector<http::FormPart>& parts, BatchInput& in);

}  // namespace evald::api::company_input
