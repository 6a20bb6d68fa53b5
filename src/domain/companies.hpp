#pragma once
/// Companies of a project (docs/DOMAIN.md, "Companies"): the service and its SQL, the Korean
/// business registration number, and the all-or-nothing batch import.

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "db/database.hpp"
#include "domain/domain.hpp"
#include "domain/projects.hpp"

namespace evald::domain {

// The contract's bounds (docs/DOMAIN.md) and the field limits of a company.
inline constexpr std::size_t kCompanyBatchMax = 1000;
inline constexpr std::size_t kCompanyNameMax = 200;
inline constexpr std::size_t kRepresentativeMax = 100;
inline constexpr std::size_t kAddressMax = 500;
inline constexpr std::size_t kContactEmailMax = 254;
inline constexpr std::size_t kContactPhoneMax = 30;

/// The columns of a company, in the order of a CSV import's header.
inline constexpr std::string_view kCompanyFieldNames[] = {
    "name", "registration_number", "representative", "address", "contact_email", "contact_phone"};

/// The outcome of checking a business registration number (사업자등록번호).
struct RegistrationCheck {
  std::string value;    ///< "NNN-NN-NNNNN" when ok
  std::string message;  ///< why not, when not ok
  std::string code;     ///< "value_error.registration_number[.check_digit]"; empty when ok
  bool ok() const { return code.empty(); }
};

/// Ten digits, with or without the hyphens of NNN-NN-NNNNN (surrounding spaces ignored), whose
/// last digit is the check digit of the first nine (weights 1,3,7,1,3,7,1,3,5, plus the tens
/// of the ninth digit times 5).
RegistrationCheck check_registration_number(std::string_view input);
/// The check digit rule alone, on exactly ten ASCII digits.
bool registration_check_digit_ok(std::string_view ten_digits);

struct CompanyFields {
  std::string name;
  std::string registration_number;  ///< as check_registration_number gives it
  std::optional<std::string> representative;
  std::optional<std::string> address;
  std::optional<std::string> contact_email;  ///< lower-cased
  std::optional<std::string> contact_phone;
};

/// PATCH: absent leaves a field alone; for the optional ones, a present nullopt clears it.
struct CompanyPatch {
  std::optional<std::string> name;
  std::optional<std::string> registration_number;
  std::optional<std::optional<std::string>> representative;
  std::optional<std::optional<std::string>> address;
  std::optional<std::optional<std::string>> contact_email;
  std::optional<std::optional<std::string>> contact_phone;
};

/// 404 when the project does not exist; 409 (field registration_number) when the number is
/// already registered in it.
Result<boost::json::object> create_company(db::Tx& tx, std::string_view project_id,
                                           const CompanyFields& in, std::string_view now);

/// All or nothing, in one statement run for every row (Tx::exec_many). `labels[i]` prefixes the
/// field of item i in conflict details ("companies[3]." or "row 5: "). 409 listing every number
/// repeated within the batch or already in the project. The created companies, in input order.
Result<boost::json::array> create_companies(db::Tx& tx, std::string_view project_id,
                                            const std::vector<CompanyFields>& items,
                                            const std::vector<std::string>& labels,
                                            std::string_view now);

/// The company when `actor` may see it (staff; an evaluator with a sheet for it); else 404.
Result<boost::json::object> get_company(db::Tx& tx, const Actor& actor, std::string_view id);
Result<boost::json::object> update_company(db::Tx& tx, std::string_view id,
                                           const CompanyPatch& patch, std::string_view now);
/// 422 when a sheet for the company is submitted or reviewed; otherwise it goes with its
/// sheets, scores and file records.
Status delete_company(db::Tx& tx, std::string_view id);

/// Listing: "SELECT <columns> FROM companies", the conditions, one row's view.
std::string company_select();
std::vector<SqlCondition> company_conditions(std::string_view project_id,
                                             const std::optional<std::string>& search);
boost::json::object company_json(const db::Rows& rows, std::size_t i);

}  // namespace evald::domain
