#pragma once
/// Shared parts of list endpoints: a WHERE clause built with bound values, `limit` (1 to 200,
/// default 50) and an opaque keyset cursor over (created_at, id), newest first.

#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "db/database.hpp"
#include "http/message.hpp"

namespace evald::api {

class Where {
 public:
  /// Adds "AND <clause> $n" with `v` bound as $n: add("user_id =", id).
  void add(const std::string& clause, db::Value v);
  /// Adds "AND <sql>" where each "?" in `sql` becomes the next $n.
  void add_raw(std::string sql, std::vector<db::Value> values);
  const std::string& sql() const { return sql_; }  ///< " WHERE 1 = 1 AND ..."
  const db::Params& params() const { return params_; }

 private:
  std::string sql_ = " WHERE 1 = 1";
  db::Params params_;
};

struct Page {
  int limit = 50;
};

/// Reads `limit` and `cursor`; a bad one adds to `problems`. A cursor adds its keyset condition
/// on (created_at, id) to `where`.
Page read_page(const http::Request& req, Where& where, std::vector<FieldError>& problems);
/// Reads `since` and `until` (ISO 8601 UTC) into conditions on created_at.
void read_time_range(const http::Request& req, Where& where, std::vector<FieldError>& problems);
/// "ORDER BY created_at DESC, id DESC LIMIT n+1": one more row tells whether there is a next page.
std::string newest_first(const Page& page);
/// The next page's cursor from the last row shown, or null when `rows` holds no more.
boost::json::value next_cursor(const db::Rows& rows, const Page& page);

}  // namespace evald::api
