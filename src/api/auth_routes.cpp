// /auth: login, logout, me, change-password, sessions, lockout, security events.

#include <boost/json.hpp>

#include "api/auth_schemas.hpp"
#include "api/routes.hpp"
#include "auth/events.hpp"
#include "auth/service.hpp"
#include "core/time_format.hpp"
#include "http/body.hpp"
#include "http/query.hpp"

namespace evald::api {
namespace {

namespace json = boost::json;
namespace asio = boost::asio;
using http::Request;
using http::RequestContext;
using http::Response;

using namespace auth_docs;  // NOLINT(google-build-using-namespace): the schemas of this table

// A documented success answer: its schema and example, both JSON text.
http::ResponseDoc answer_doc(unsigned status, std::string description, std::string_view schema_text,
                             std::string_view example) {
  return {status, std::move(description), "application/json", schema(schema_text), schema(example)};
}

// A documented error answer (the OpenAPI builder gives it the shared Error schema).
http::ResponseDoc fails(unsigned status, std::string description) {
  return {status, std::move(description), "application/json", {}, {}};
}

http::RouteSpec route(std::string method, std::string path, std::string summary,
                      http::Handler handler) {
  http::RouteSpec r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.summary = std::move(summary);
  r.tag = "Authentication";
  r.handler = std::move(handler);
  return r;
}

json::object session_json(const auth::SessionRecord& s, const std::string& current) {
  json::object o;
  o["session_id"] = s.session_id;
  o["user_id"] = s.user_id;
  o["created_at"] = s.created_at;
  o["last_activity"] = s.last_activity;
  o["expires_at"] = s.expires_at;
  o["ip_address"] = s.ip_address;
  o["user_agent"] = s.user_agent;
  o["is_active"] = s.is_active;
  o["is_current"] = s.session_id == current;
  return o;
}

// Reads a JSON body into fields; on failure, the response to send.
std::optional<Response> read_json(const Request& req, json::object& out) {
  auto body = http::parse_json_object(req);
  if (!body) return Response::from_error(std::move(body).error());
  out = std::move(*body);
  return std::nullopt;
}

}  // namespace

std::vector<http::RouteSpec> auth_routes(AppContext& app) {
  auto& auth = *app.auth;
  auto& workers = *app.workers;
  std::vector<http::RouteSpec> routes;

  auto login = route(
      "POST", "/auth/login", "Sign in",
      [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
        // JSON {login_id, password, mfa_code?} or the OAuth2 password form (Swagger UI).
        auto parsed = http::is_form(req) ? http::parse_form(req) : http::parse_json_object(req);
        if (!parsed) co_return Response::from_error(std::move(parsed).error());
        json::object& o = *parsed;
        if (http::is_form(req) && o.contains("username")) o["login_id"] = o["username"];
        http::Fields f(o);
        const auto login_id = f.required_string("login_id", 1, 64);
        const auto password = f.required_string("password", 1, 1024);
        const auto mfa_code = f.optional_string("mfa_code", 32).value_or("");
        if (!f.ok()) co_return Response::from_error(f.error());
        const auto client = auth::client_info(req, ctx);
        auto result =
            co_await workers.run([&] { return auth.login(login_id, password, mfa_code, client); });
        if (!result) {
          auto res = Response::from_error(std::move(result).error());
          if (res.status == 401) res.headers.set("WWW-Authenticate", "Bearer");
          co_return res;
        }
        json::object body;
        body["access_token"] = result->access_token;
        body["token_type"] = "bearer";
        body["expires_in"] = result->expires_in;
        body["user"] = auth::user_json(result->user);
        co_return ok_json(body);
      });
  login.description =
      "Exchanges a login id and password for a bearer access token and a server-side session. "
      "A wrong login id and a wrong password get the same answer. After MAX_FAILED_ATTEMPTS "
      "failures the login id is locked (423) for LOCKOUT_DURATION_MINUTES.";
  login.is_public = true;
  login.rate_category = http::RateCategory::kLogin;
  login.request_body =
      http::BodyDoc{"application/json",
                    schema(R"({"type":"object","required":["login_id","password"],"properties":{
        "login_id":{"type":"string","minLength":1,"maxLength":64},
        "password":{"type":"string","minLength":1,"format":"password"},
        "mfa_code":{"type":"string"}}})"),
                    schema(R"({"login_id":"admin","password":"correct horse battery staple"})")};
  login.responses.push_back(answer_doc(
      200, "Signed in",
      std::string(
          R"({"type":"object","required":["access_token","token_type","expires_in","user"],
         "properties":{"access_token":{"type":"string"},"token_type":{"type":"string","enum":["bearer"]},
         "expires_in":{"type":"integer","description":"seconds"},"user":)") +
          kUserSchema + "}}",
      kLoginExample));
  login.responses.push_back(fails(
      401,
      "Wrong login id or password (the same answer for both), or MFA_REQUIRED: a code is needed"));
  login.responses.push_back(fails(423, "The login id is locked after repeated failures"));
  login.responses.push_back(fails(503, "The database is unavailable; retry shortly"));
  routes.push_back(std::move(login));

  auto me = route("GET", "/auth/me", "The signed-in user",
                  [&](Request&, RequestContext& ctx) -> asio::awaitable<Response> {
                    // Most calls are answered from the query cache without leaving this thread.
                    if (auto peeked = auth::peek_user_by_id(auth.db(), ctx.principal->user_id);
                        peeked && *peeked && (*peeked)->is_active) {
                      co_return ok_json(auth::user_json(**peeked));
                    }
                    auto user = co_await workers.run([&] { return auth.me(*ctx.principal); });
                    if (!user) co_return Response::from_error(std::move(user).error());
                    co_return ok_json(auth::user_json(*user));
                  });
  me.responses.push_back(answer_doc(200, "The caller", kUserSchema, kUserExample));
  routes.push_back(std::move(me));

  auto logout =
      route("POST", "/auth/logout", "Sign out (revokes the current session)",
            [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
              const auto client = auth::client_info(req, ctx);
              auto st = co_await workers.run([&] { return auth.logout(*ctx.principal, client); });
              if (!st) co_return Response::from_error(st.error());
              co_return ok_json(json::object{{"logged_out", true}});
            });
  logout.responses.push_back(answer_doc(200, "Signed out: the token no longer works", kLoggedOut,
                                        R"({"logged_out":true})"));
  routes.push_back(std::move(logout));

  auto change =
      route("POST", "/auth/change-password", "Change the password; other sessions are revoked",
            [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
              json::object o;
              if (auto bad = read_json(req, o)) co_return std::move(*bad);
              http::Fields f(o);
              const auto current = f.required_string("current_password", 1, 1024);
              const auto next = f.required_string("new_password", 1, 1024);
              if (!f.ok()) co_return Response::from_error(f.error());
              const auto client = auth::client_info(req, ctx);
              auto st = co_await workers.run(
                  [&] { return auth.change_password(*ctx.principal, current, next, client); });
              if (!st) co_return Response::from_error(st.error());
              co_return ok_json(json::object{{"password_changed", true}});
            });
  change.request_body = http::BodyDoc{
      "application/json",
      schema(R"({"type":"object","required":["current_password","new_password"],"properties":{
        "current_password":{"type":"string","format":"password"},
        "new_password":{"type":"string","minLength":8,"maxLength":128,"format":"password"}}})"),
      schema(R"({"current_password":"old secret words","new_password":"new secret phrase 42"})")};
  change.responses.push_back(answer_doc(200, "Changed; every other session is revoked",
                                        kPasswordChanged, R"({"password_changed":true})"));
  change.responses.push_back(fails(400,
                                   "The current password is wrong (counted like a failed login), "
                                   "or the new one breaks the policy"));
  routes.push_back(std::move(change));

  auto list_sessions =
      route("GET", "/auth/sessions", "Sessions of the caller (admin: of any user, by user_id)",
            [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
              std::string user_id = ctx.principal->user_id;
              if (auto other = http::query_param(req.query, "user_id"); other && !other->empty()) {
                if (ctx.principal->role != "admin" && *other != user_id) {
                  co_return Response::from_error(
                      ApiError::forbidden("Only an admin may list another user's sessions"));
                }
                user_id = *other;
              }
              std::optional<std::vector<auth::SessionRecord>> list;
              auto st = co_await workers.run([&] {
                return auth.db().read([&](db::Tx& tx) -> Status {
                  auto l = auth.sessions().list(tx, user_id);
                  if (!l) return std::move(l).error();
                  list = std::move(*l);
                  return Ok{};
                });
              });
              if (!st) co_return Response::from_error(st.error());
              json::array items;
              for (const auto& s : *list)
                items.push_back(session_json(s, ctx.principal->session_id));
              co_return ok_json(json::object{{"items", std::move(items)}});
            });
  list_sessions.params.push_back(
      {"user_id", "query", false, "admin only: whose sessions", schema(R"({"type":"string"})")});
  list_sessions.responses.push_back(answer_doc(
      200, "Every session, newest first (ended ones with is_active false)",
      std::string(
          R"({"type":"object","required":["items"],"additionalProperties":false,"properties":{"items":{"type":"array","items":)") +
          kSessionSchema + "}}}",
      std::string(R"({"items":[)") + kSessionExample + "]}"));
  list_sessions.responses.push_back(
      fails(403, "user_id names another user and the caller is not an admin"));
  routes.push_back(std::move(list_sessions));

  auto revoke_one =
      route("DELETE", "/auth/sessions/{session_id}", "Revoke one session",
            [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
              const std::string id(ctx.param("session_id"));
              const auto client = auth::client_info(req, ctx);
              bool found = false;
              auto st = co_await workers.run([&] {
                return auth.db().write([&](db::Tx& tx) -> Status {
                  auto s = auth.sessions().find(tx, id);
                  if (!s) return std::move(s).error();
                  // Another user's session is "not found" unless the caller is an admin.
                  if (!*s ||
                      ((*s)->user_id != ctx.principal->user_id && ctx.principal->role != "admin")) {
                    return Ok{};
                  }
                  auto r = auth.sessions().revoke(tx, id);
                  if (!r) return std::move(r).error();
                  found = *r;
                  if (!found) return Ok{};
                  return auth::record_event(
                      tx,
                      auth::SecurityEvent{"session_revoked", ctx.principal->user_id, "", client.ip,
                                          client.user_agent, client.request_id,
                                          "session of user " + (*s)->user_id},
                      format_iso8601(auth.clock().now(), true));
                });
              });
              if (!st) co_return Response::from_error(st.error());
              if (!found)
                co_return Response::from_error(ApiError::not_found("No such active session"));
              auth.sessions().forget(id);
              co_return ok_json(json::object{{"revoked", true}, {"session_id", id}});
            });
  revoke_one.params.push_back(
      {"session_id", "path", true, "public session id", schema(R"({"type":"string"})")});
  revoke_one.responses.push_back(answer_doc(200, "Revoked: its token no longer works",
                                            kSessionRevoked, kSessionRevokedExample));
  revoke_one.responses.push_back(
      fails(404, "No such active session of the caller (an admin: of anyone)"));
  routes.push_back(std::move(revoke_one));

  auto revoke_others =
      route("DELETE", "/auth/sessions", "Revoke every session of the caller but the current one",
            [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
              const auto client = auth::client_info(req, ctx);
              std::int64_t n = 0;
              auto st = co_await workers.run([&] {
                return auth.db().write([&](db::Tx& tx) -> Status {
                  auto r = auth.sessions().revoke_all(tx, ctx.principal->user_id,
                                                      ctx.principal->session_id);
                  if (!r) return std::move(r).error();
                  n = *r;
                  return auth::record_event(
                      tx,
                      auth::SecurityEvent{"session_revoked", ctx.principal->user_id, "", client.ip,
                                          client.user_agent, client.request_id,
                                          "all other sessions: " + std::to_string(n)},
                      format_iso8601(auth.clock().now(), true));
                });
              });
              if (!st) co_return Response::from_error(st.error());
              auth.sessions().forget_user(ctx.principal->user_id);
              co_return ok_json(json::object{{"revoked", n}});
            });
  revoke_others.responses.push_back(
      answer_doc(200, "The other sessions are revoked", kSessionsRevoked, R"({"revoked":2})"));
  routes.push_back(std::move(revoke_others));

  auto lockout = route(
      "GET", "/auth/lockout-status/{login_id}", "Lockout state of a login id",
      [&](Request&, RequestContext& ctx) -> asio::awaitable<Response> {
        const std::string login_id(ctx.param("login_id"));
        auto s = co_await workers.run([&] { return auth.lockout_status(login_id); });
        if (!s) co_return Response::from_error(std::move(s).error());
        json::object o;
        o["login_id"] = login_id;
        o["is_locked"] = s->is_locked;
        o["lockout_until"] = s->lockout_until ? json::value(*s->lockout_until) : json::value();
        o["failed_attempts"] = s->failed_attempts;
        o["remaining_attempts"] = s->remaining_attempts;
        co_return ok_json(o);
      });
  lockout.roles = {http::Role::kAdmin, http::Role::kSecretary};
  lockout.rate_category = http::RateCategory::kAdmin;
  lockout.responses.push_back(answer_doc(200, "The lockout state (also of unknown login ids)",
                                         kLockoutSchema, kLockoutExample));
  routes.push_back(std::move(lockout));

  auto unlock = route(
      "POST", "/auth/unlock-account/{login_id}", "Clear a login id's failures and lock",
      [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
        const std::string login_id(ctx.param("login_id"));
        const auto client = auth::client_info(req, ctx);
        auto st =
            co_await workers.run([&] { return auth.unlock(login_id, *ctx.principal, client); });
        if (!st) co_return Response::from_error(st.error());
        co_return ok_json(json::object{{"login_id", login_id}, {"unlocked", true}});
      });
  unlock.roles = {http::Role::kAdmin, http::Role::kSecretary};
  unlock.rate_category = http::RateCategory::kAdmin;
  unlock.responses.push_back(answer_doc(200, "Failures and lock cleared", kUnlocked,
                                        R"({"login_id":"kim.evaluator","unlocked":true})"));
  routes.push_back(std::move(unlock));

  auto request_reset = route(
      "POST", "/auth/request-password-reset", "Mail a password reset link",
      [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
        json::object o;
        if (auto bad = read_json(req, o)) co_return std::move(*bad);
        http::Fields f(o);
        const auto email = f.required_string("email", 3, 254);
        if (f.ok() && email.find('@') == std::string::npos) {
          f.fail("email", "Invalid email format", "value_error.email");
        }
        if (!f.ok()) co_return Response::from_error(f.error());
        const auto client = auth::client_info(req, ctx);
        auto st = co_await workers.run([&] { return auth.request_password_reset(email, client); });
        if (!st) co_return Response::from_error(st.error());
        // The same answer whether or not the address belongs to an account.
        co_return ok_json(json::object{
            {"message", "If the email belongs to an account, a reset link has been sent to it"}});
      });
  request_reset.description =
      "Always answers the same, whether or not the email belongs to an account. The link (to "
      "FRONTEND_URL/reset-password?token=...) is single use, expires after "
      "RESET_TOKEN_EXPIRY_HOURS, and a newer request invalidates older links.";
  request_reset.is_public = true;
  request_reset.rate_category = http::RateCategory::kLogin;
  request_reset.request_body = http::BodyDoc{
      "application/json",
      schema(
          R"({"type":"object","required":["email"],"properties":{"email":{"type":"string","format":"email"}}})"),
      schema(R"({"email":"kim@example.org"})")};
  request_reset.responses.push_back(answer_doc(200, "Accepted (the same answer for any address)",
                                               kResetRequested, kResetRequestedExample));
  request_reset.responses.push_back(fails(503, "The database is unavailable; retry shortly"));
  routes.push_back(std::move(request_reset));

  auto reset = route(
      "POST", "/auth/reset-password", "Set a new password with a reset token",
      [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
        json::object o;
        if (auto bad = read_json(req, o)) co_return std::move(*bad);
        http::Fields f(o);
        const auto token = f.required_string("token", 1, 256);
        const auto next = f.required_string("new_password", 1, 1024);
        if (!f.ok()) co_return Response::from_error(f.error());
        const auto client = auth::client_info(req, ctx);
        auto st = co_await workers.run([&] { return auth.reset_password(token, next, client); });
        if (!st) co_return Response::from_error(st.error());
        co_return ok_json(json::object{{"password_reset", true}});
      });
  reset.description =
      "Applies the password policy, revokes every session of the account and clears its "
      "lockout. It does not sign in: sign in with the new password afterwards.";
  reset.is_public = true;
  reset.rate_category = http::RateCategory::kLogin;
  reset.request_body =
      http::BodyDoc{"application/json",
                    schema(R"({"type":"object","required":["token","new_password"],"properties":{
        "token":{"type":"string"},"new_password":{"type":"string","minLength":8,"maxLength":128,"format":"password"}}})"),
                    schema(R"({"token":"3f9a...","new_password":"a new secret phrase 42"})")};
  reset.responses.push_back(
      answer_doc(200, "The password is set", kPasswordReset, R"({"password_reset":true})"));
  reset.responses.push_back(
      fails(400, "The token is unknown, spent or expired, or the password breaks the policy"));
  reset.responses.push_back(fails(503, "The database is unavailable; retry shortly"));
  routes.push_back(std::move(reset));

  auto setup = route("POST", "/auth/setup-mfa", "Start TOTP multi-factor setup",
                     [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
                       json::object o;
                       if (auto bad = read_json(req, o)) co_return std::move(*bad);
                       http::Fields f(o);
                       const auto password = f.required_string("password", 1, 1024);
                       if (!f.ok()) co_return Response::from_error(f.error());
                       const auto client = auth::client_info(req, ctx);
                       auto r = co_await workers.run(
                           [&] { return auth.setup_mfa(*ctx.principal, password, client); });
                       if (!r) co_return Response::from_error(std::move(r).error());
                       json::object body;
                       body["secret"] = r->secret;
                       body["otpauth_uri"] = r->otpauth_uri;
                       body["qr_code"] = r->qr_code;
                       json::array codes;
                       for (const auto& c : r->backup_codes) codes.emplace_back(c);
                       body["backup_codes"] = std::move(codes);
                       co_return ok_json(body);
                     });
  setup.description =
      "Returns a new TOTP secret (SHA-1, 6 digits, 30 s), its otpauth URI and QR code, and 10 "
      "single-use backup codes. Nothing changes until /auth/verify-mfa-setup confirms a code; "
      "MFA that is already on stays on until then.";
  setup.request_body = http::BodyDoc{
      "application/json",
      schema(
          R"({"type":"object","required":["password"],"properties":{"password":{"type":"string","format":"password"}}})"),
      schema(R"({"password":"correct horse battery staple"})")};
  setup.responses.push_back(
      answer_doc(200, "A new secret, waiting for confirmation", kMfaSetupSchema, kMfaSetupExample));
  setup.responses.push_back(fails(400, "The password is wrong"));
  routes.push_back(std::move(setup));

  auto verify =
      route("POST", "/auth/verify-mfa-setup", "Confirm MFA setup with a code; MFA is then on",
            [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
              json::object o;
              if (auto bad = read_json(req, o)) co_return std::move(*bad);
              http::Fields f(o);
              const auto code = f.required_string("code", 1, 32);
              if (!f.ok()) co_return Response::from_error(f.error());
              const auto client = auth::client_info(req, ctx);
              auto st = co_await workers.run(
                  [&] { return auth.verify_mfa_setup(*ctx.principal, code, client); });
              if (!st) co_return Response::from_error(st.error());
              co_return ok_json(json::object{{"mfa_enabled", true}});
            });
  verify.responses.push_back(answer_doc(200, "MFA is on", kMfaEnabled, R"({"mfa_enabled":true})"));
  verify.responses.push_back(fails(400, "The code is not valid"));
  verify.responses.push_back(fails(422, "No setup is waiting: call /auth/setup-mfa first"));
  routes.push_back(std::move(verify));

  auto disable = route("POST", "/auth/disable-mfa", "Turn MFA off (password and a current code)",
                       [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
                         json::object o;
                         if (auto bad = read_json(req, o)) co_return std::move(*bad);
                         http::Fields f(o);
                         const auto password = f.required_string("password", 1, 1024);
                         const auto code = f.required_string("code", 1, 32);
                         if (!f.ok()) co_return Response::from_error(f.error());
                         const auto client = auth::client_info(req, ctx);
                         auto st = co_await workers.run([&] {
                           return auth.disable_mfa(*ctx.principal, password, code, client);
                         });
                         if (!st) co_return Response::from_error(st.error());
                         co_return ok_json(json::object{{"mfa_enabled", false}});
                       });
  disable.responses.push_back(
      answer_doc(200, "MFA is off", kMfaDisabled, R"({"mfa_enabled":false})"));
  disable.responses.push_back(fails(400, "The password or the code is wrong"));
  disable.responses.push_back(fails(422, "MFA is not enabled"));
  routes.push_back(std::move(disable));

  return routes;
}

}  // namespace evald::api
