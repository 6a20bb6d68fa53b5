#pragma once
/// Shared parts of the evaluation domain's route tables (docs/DOMAIN.md): who calls, reading a
/// JSON body, answering a service's result, and the documentation pieces every table repeats.

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/listing.hpp"
#include "api/routes.hpp"
#include "core/error.hpp"
#include "db/database.hpp"
#include "domain/domain.hpp"
#include "http/body.hpp"
#include "http/route.hpp"

namespace evald::api {

/// Secretaries and admins, in that order of the documentation's "Roles:" line.
inline const std::vector<http::Role> kStaff{http::Role::kAdmin, http::Role::kSecretary};

// --- documentation ------------------------------------------------------------------------------

/// A route with its documentation; the caller adds params, body and responses.
http::RouteSpec route(std::string method, std::string path, std::string tag, std::string summary,
                      std::string description, std::vector<http::Role> roles,
                      http::Handler handler);
/// A required UUID path parameter `name`, described as `what`.
void id_param(http::RouteSpec& r, const char* name, const char* what);
/// `limit` (integer, 1 to 200) and `cursor` query parameters of a list.
void list_params(http::RouteSpec& r);
/// Optional query parameters documented as strings: {name, description}.
void query_params(http::RouteSpec& r,
                  std::initializer_list<std::pair<const char*, const char*>> list);
/// An error response (the OpenAPI builder gives every 4xx and 5xx the shared Error schema).
http::ResponseDoc error_doc(unsigned status, std::string description);
/// Appends one error response per {status, description}.
void errors(http::RouteSpec& r, std::initializer_list<std::pair<unsigned, const char*>> list);
/// {"items": [item...], "next_cursor": string | null}.
std::string list_schema(std::string_view item_schema);
/// {"items": [item], "next_cursor": null}.
std::string list_example(std::string_view item_example);
/// An input schema (a JSON object's text) with its "required" list added.
std::string with_required(const char* input, const char* required);

// --- handlers -----------------------------------------------------------------------------------

/// The signed-in caller as the services see them.
domain::Actor actor_of(const http::RequestContext& ctx);
/// The body as an object (400 when it is not JSON); a blank body is an empty object when
/// `allow_empty`.
Result<boost::json::object> body_object(const http::Request& req, bool allow_empty);
/// Reads the body into `out`; the error response when it is not a JSON object.
std::optional<http::Response> read_body(const http::Request& req, boost::json::object& out);
/// `status` with the object, or the error.
http::Response answer(Result<boost::json::object> r, unsigned status = 200);
/// 204 without a body.
http::Response no_content();

/// {"items": [to_json(rows, i) for the page's rows], "next_cursor": ...}.
template <class ToJson>
boost::json::object page_json(const db::Rows& rows, const Page& page, ToJson to_json) {
  boost::json::array items;
  const auto n = std::min<std::size_t>(rows.size(), static_cast<std::size_t>(page.limit));
  for (std::size_t i = 0; i < n; ++i) items.push_back(to_json(rows, i));
  return boost::json::object{{"items", std::move(items)}, {"next_cursor", next_cursor(rows, page)}};
}

/// Runs `fn(tx)` in one transaction (a write one when `write`) and hands back its result.
template <class T, class F>
Result<T> transaction(db::Database& db, bool write, F fn) {
  std::optional<T> out;
  const db::TxFn body = [&](db::Tx& tx) -> Status {
    Result<T> r = fn(tx);
    if (!r) return std::move(r).error();
    out.emplace(std::move(*r));
    return Ok{};
  };
  auto st = write ? db.write(body) : db.read(body);
  if (!st) return std::move(st).error();
  return std::move(*out);
}

/// Field readers of the project and company bodies: text other programs can take.
namespace fields {

/// Fails `name` when `v` holds a control character other than tab and line breaks (or NUL,
/// which PostgreSQL's text refuses).
void check_text(http::Fields& f, std::string_view name, std::string_view v);
/// A required, non-blank text of at most `max` characters.
std::string read_name(http::Fields& f, std::string_view field, std::size_t max);
/// An optional text of at most `max` characters.
std::optional<std::string> read_text(http::Fields& f, std::string_view field, std::size_t max);
/// A string field, or nullopt when absent, null or refused (a wrong type is reported once).
std::optional<std::string> read_string(http::Fields& f, std::string_view field, std::size_t max);
/// `search`: at most domain::kSearchMax characters of UTF-8; empty means no filter.
std::optional<std::string> read_search(const http::Request& req, std::vector<FieldError>& problems);

/// PATCH of an optional field: absent (outer nullopt), null (inner nullopt: clear), or a value.
template <class Read>
std::optional<std::optional<std::string>> change(const boost::json::object& o,
                                                 std::string_view name, Read read) {
  const auto* v = o.if_contains(name);
  if (!v) return std::nullopt;
  if (v->is_null()) return std::optional<std::string>{};
  return std::optional<std::string>(read().value_or(""));
}

/// PATCH of a field that cannot be cleared: null is refused.
template <class Read>
std::optional<std::string> required_change(const boost::json::object& o, http::Fields& f,
                                           std::string_view name, Read read) {
  const auto* v = o.if_contains(name);
  if (!v) return std::nullopt;
  if (v->is_null()) {
    f.fail(std::string(name), "Must not be null", "type_error.none");
    return std::nullopt;
  }
  return read();
}

}  // namespace fields

}  // namespace evald::api
