#include "api/listing.hpp"

#include <boost/json.hpp>
#include <charconv>

#include "auth/jwt.hpp"
#include "core/json.hpp"
#include "core/time_format.hpp"
#include "http/query.hpp"

namespace evald::api {

void Where::add(const std::string& clause, db::Value v) {
  params_.push_back(std::move(v));
  sql_ += " AND " + clause + " $" + std::to_string(params_.size());
}

void Where::add_raw(std::string sql, std::vector<db::Value> values) {
  std::string out;
  std::size_t next = 0;
  for (char c : sql) {
    if (c == '?' && next < values.size()) {
      params_.push_back(std::move(values[next++]));
      out += "$" + std::to_string(params_.size());
    } else {
      out += c;
    }
  }
  sql_ += " AND " + out;
}

Page read_page(const http::Request& req, Where& where, std::vector<FieldError>& problems) {
  Page page;
  if (auto l = http::query_param(req.query, "limit")) {
    int limit = 0;
    auto [p, ec] = std::from_chars(l->data(), l->data() + l->size(), limit);
    if (ec != std::errc{} || p != l->data() + l->size() || limit < 1 || limit > 200) {
      problems.push_back(
          {"limit", "Must be a whole number from 1 to 200", "value_error.limit", *l});
    } else {
      page.limit = limit;
    }
  }
  if (auto c = http::query_param(req.query, "cursor")) {
    std::string decoded;
    // A cursor is ours (time|id, both text); anything else is refused before it reaches SQL.
    const bool text = auth::base64url_decode(*c, decoded) && is_valid_utf8(decoded) &&
                      decoded.find('\0') == std::string::npos;
    const auto bar = text ? decoded.find('|') : std::string::npos;
    if (bar == std::string::npos) {
      problems.push_back({"cursor", "Invalid cursor", "value_error.cursor", std::nullopt});
    } else {
      const std::string at = decoded.substr(0, bar);
      where.add_raw("(created_at < ? OR (created_at = ? AND id < ?))",
                    {at, at, decoded.substr(bar + 1)});
    }
  }
  return page;
}

void read_time_range(const http::Request& req, Where& where, std::vector<FieldError>& problems) {
  for (const auto& [name, op] : {std::pair{"since", "created_at >="}, {"until", "created_at <"}}) {
    if (auto v = http::query_param(req.query, name)) {
      if (auto normalized = normalize_iso8601(*v)) {
        where.add(op, *normalized);
      } else {
        problems.push_back({name, "Must be an ISO 8601 UTC time like 2026-01-15T10:30:00Z",
                            "value_error.datetime", *v});
      }
    }
  }
}

std::string newest_first(const Page& page) {
  return " ORDER BY created_at DESC, id DESC LIMIT " + std::to_string(page.limit + 1);
}

boost::json::value next_cursor(const db::Rows& rows, const Page& page) {
  const auto n = static_cast<std::size_t>(page.limit);
  if (rows.size() <= n) return nullptr;
  return boost::json::value(
      auth::base64url_encode(rows.text(n - 1, "created_at") + "|" + rows.text(n - 1, "id")));
}

}  // namespace evald::api
