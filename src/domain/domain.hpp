#pragma once
/// Shared parts of the evaluation domain's services (docs/DOMAIN.md): who acts, and the errors
/// every resource answers with. Services take a db::Tx or db::Database and hold the SQL; they know
/// nothing of HTTP.

#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "core/error.hpp"
#include "db/database.hpp"

namespace evald::domain {

/// The signed-in caller as the services see them.
struct Actor {
  std::string user_id;
  std::string role;  ///< admin, secretary or evaluator
  bool is_admin() const { return role == "admin"; }
  bool is_staff() const { return role == "admin" || role == "secretary"; }
  bool is_evaluator() const { return role == "evaluator"; }
};

/// True for the shape of the ids this API hands out (a UUID, any case); anything else can never
/// name a resource, so it answers 404 without a query.
bool is_uuid(std::string_view id);

/// A text column as JSON: null when the row holds NULL.
boost::json::value text_or_null(const db::Rows& rows, std::size_t i, std::string_view col);

/// 404 with the resource's name: also what a caller gets for an object they may not see.
ApiError not_found(std::string_view what);
/// 409 CONFLICT.
ApiError conflict(std::string message, std::vector<FieldError> details = {});
/// 422 BUSINESS_LOGIC_ERROR: the request is well formed but the current state forbids it.
ApiError business(std::string message);

}  // namespace evald::domain
