#pragma once
/// What the sheet services (evaluations.cpp) and the assignment services (assignments.cpp)
/// share; not part of the domain's interface.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/result.hpp"
#include "db/database.hpp"

namespace evald::domain::detail {

/// NULL for nullopt.
db::Value opt_text(const std::optional<std::string>& v);
/// A field-level problem for the details of an error body.
FieldError problem(std::string field, std::string message, std::string code);
/// 422 BUSINESS_LOGIC_ERROR with these details.
ApiError business_details(std::string message, std::vector<FieldError> details);
/// The sheet's row (kSheetColumns), empty when there is none.
Result<db::Rows> sheet_row(db::Tx& tx, std::string_view id);

}  // namespace evald::domain::detail
