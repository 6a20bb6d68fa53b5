#include "domain/secretary_requests.hpp"

#include <boost/json.hpp>

#include "auth/events.hpp"
#include "auth/password.hpp"
#include "core/ids.hpp"
#include "core/time_format.hpp"

namespace evald::domain {
namespace {

namespace json = boost::json;

constexpr const char* kColumns =
    "SELECT id, name, login_id, email, phone, reason, status, created_at, decided_by, decided_at, "
    "decision_reason FROM secretary_requests";

std::string text_or_empty(const db::Rows& rows, std::size_t i, std::string_view col) {
  return rows.null_at(i, col) ? std::string() : rows.text(i, col);
}

json::value text_or_null(const std::string& s) {
  return s.empty() ? json::value(nullptr) : json::value(s);
}

// The request, read inside `tx`; 404 when there is none.
Result<SecretaryRequest> load(db::Tx& tx, std::string_view id) {
  auto rows = tx.query(std::string(kColumns) + " WHERE id = $1", {std::string(id)});
  if (!rows) return std::move(rows).error();
  if (rows->empty()) return not_found("Secretary request");
  return secretary_requests_from_rows(*rows, 1).front();
}

// Marks a pending request decided; 409 when someone decided it first.
Status decide(db::Tx& tx, const SecretaryRequest& r, std::string_view status, const std::string& by,
              const std::string& at, const db::Value& reason) {
  if (r.status != "pending") return conflict("This request was already " + r.status);
  // Conditional on 'pending': of two admins deciding at once, one wins. The hash is dropped
  // (it now lives in users, or nowhere).
  auto n = tx.exec(
      "UPDATE secretary_requests SET status = $1, decided_by = $2, decided_at = $3, "
      "decision_reason = $4, password_hash = '' WHERE id = $5 AND status = 'pending'",
      {std::string(status), by, at, reason, r.id});
  if (!n) return std::move(n).error();
  if (*n != 1) return conflict("This request was already decided");
  return Ok{};
}

}  // namespace

json::object secretary_request_json(const SecretaryRequest& r) {
  json::object o;
  o["id"] = r.id;
  o["name"] = r.name;
  o["login_id"] = r.login_id;
  o["email"] = r.email;
  o["phone"] = text_or_null(r.phone);
  o["reason"] = text_or_null(r.reason);
  o["status"] = r.status;
  o["created_at"] = r.created_at;
  o["decided_by"] = text_or_null(r.decided_by);
  o["decided_at"] = text_or_null(r.decided_at);
  o["decision_reason"] = text_or_null(r.decision_reason);
  return o;
}

std::vector<SecretaryRequest> secretary_requests_from_rows(const db::Rows& rows, std::size_t max) {
  std::vector<SecretaryRequest> out;
  const std::size_t n = std::min(rows.size(), max);
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    SecretaryRequest r;
    r.id = rows.text(i, "id");
    r.name = rows.text(i, "name");
    r.login_id = rows.text(i, "login_id");
    r.email = rows.text(i, "email");
    r.phone = text_or_empty(rows, i, "phone");
    r.reason = text_or_empty(rows, i, "reason");
    r.status = rows.text(i, "status");
    r.created_at = rows.text(i, "created_at");
    r.decided_by = text_or_empty(rows, i, "decided_by");
    r.decided_at = text_or_empty(rows, i, "decided_at");
    r.decision_reason = text_or_empty(rows, i, "decision_reason");
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<Condition> secretary_request_conditions(const std::optional<std::string>& status) {
  if (!status) return {};
  return {{"status = ?", {*status}}};
}

std::string SecretaryRequests::now() const { return format_iso8601(clock_.now(), true); }

Status SecretaryRequests::submit(const SignupInput& in, const auth::ClientInfo& client) {
  const std::string hash = auth::hash_password(in.password);
  const std::string at = now();
  const std::string id = new_uuid();
  return db_.write([&](db::Tx& tx) -> Status {
    auto r = tx.exec(
        "INSERT INTO secretary_requests (id, name, login_id, email, phone, reason, password_hash, "
        "status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8)",
        {id, in.name, in.login_id, in.email, in.phone, in.reason, hash, at});
    if (!r) return std::move(r).error();
    return auth::record_event(
        tx,
        auth::SecurityEvent{"secretary_signup_requested", "", in.login_id, client.ip,
                            client.user_agent, client.request_id, "request " + id},
        at);
  });
}

Result<db::Rows> SecretaryRequests::list(const std::string& where_sql, const db::Params& params,
                                         const std::string& tail) {
  return db_.query(kColumns + where_sql + tail, params);
}

Result<auth::User> SecretaryRequests::approve(std::string_view id, const Audit& audit) {
  std::optional<auth::User> out;
  auto st = db_.write([&](db::Tx& tx) -> Status {
    auto req = load(tx, id);
    if (!req) return std::move(req).error();
    auto hash = tx.query("SELECT password_hash FROM secretary_requests WHERE id = $1", {req->id});
    if (!hash) return std::move(hash).error();
    const std::string at = now();
    if (auto d = decide(tx, *req, "approved", audit.actor.user_id, at, db::null()); !d) return d;
    if (auto free = check_user_free(tx, req->login_id, req->email); !free) return free;
    auth::User u;
    u.id = new_uuid();
    u.login_id = req->login_id;
    u.email = req->email;
    u.user_name = req->name;
    u.phone = req->phone;
    u.role = "secretary";
    u.password_hash = hash->text(0, "password_hash");
    u.created_at = at;
    if (auto ins = auth::insert_user(tx, u); !ins) return ins;
    const auto& c = audit.client;
    auto e = auth::record_event(
        tx,
        auth::SecurityEvent{"secretary_request_approved", audit.actor.user_id, u.login_id, c.ip,
                            c.user_agent, c.request_id, "request " + req->id + ", user " + u.id},
        at);
    if (!e) return e;
    u.password_hash.clear();
    out = std::move(u);
    return Ok{};
  });
  if (!st) return st.error();
  return std::move(*out);
}

Result<SecretaryRequest> SecretaryRequests::reject(std::string_view id,
                                                   const std::optional<std::string>& reason,
                                                   const Audit& audit) {
  std::optional<SecretaryRequest> out;
  auto st = db_.write([&](db::Tx& tx) -> Status {
    auto req = load(tx, id);
    if (!req) return std::move(req).error();
    const std::string at = now();
    const db::Value why = reason && !reason->empty() ? db::Value(*reason) : db::null();
    if (auto d = decide(tx, *req, "rejected", audit.actor.user_id, at, why); !d) return d;
    const auto& c = audit.client;
    auto e = auth::record_event(
        tx,
        auth::SecurityEvent{"secretary_request_rejected", audit.actor.user_id, req->login_id, c.ip,
                            c.user_agent, c.request_id, "request " + req->id},
        at);
    if (!e) return e;
    auto fresh = load(tx, id);
    if (!fresh) return std::move(fresh).error();
    out = std::move(*fresh);
    return Ok{};
  });
  if (!st) return st.error();
  return std::move(*out);
}

}  // namespace evald::domain
