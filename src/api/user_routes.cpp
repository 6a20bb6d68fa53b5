// /api/users (admin), /api/evaluators (staff), /auth/secretary-signup (public) and
// /api/admin/secretary-requests (admin): docs/DOMAIN.md, Users, Secretary sign-up, Evaluators.

#include <boost/json.hpp>
#include <memory>

#include "api/domain_kit.hpp"
#include "api/listing.hpp"
#include "api/routes.hpp"
#include "auth/password_policy.hpp"
#include "auth/service.hpp"
#include "domain/secretary_requests.hpp"
#include "domain/users_admin.hpp"
#include "http/body.hpp"
#include "http/query.hpp"

namespace evald::api {
namespace {

namespace json = boost::json;
namespace asio = boost::asio;
using http::Request;
using http::RequestContext;
using http::Response;

constexpr std::size_t kMaxName = 100;
constexpr std::size_t kMaxReason = 1000;
constexpr std::size_t kMaxSearch = 100;
constexpr std::size_t kMaxRawPassword = 1024;  // the policy says 128; longer is not even read

const char* const kUserSchema = R"({"type":"object",
  "required":["id","login_id","email","user_name","phone","role","is_active","created_at","last_login"],
  "properties":{"id":{"type":"string","format":"uuid"},"login_id":{"type":"string"},
  "email":{"type":"string","format":"email"},"user_name":{"type":"string"},
  "phone":{"type":["string","null"]},"role":{"type":"string","enum":["admin","secretary","evaluator"]},
  "is_active":{"type":"boolean"},"created_at":{"type":"string","format":"date-time"},
  "last_login":{"type":["string","null"],"format":"date-time"}}})";

const char* const kUserExample = R"({"id":"0b0f5a8e-5c55-4a8e-9d7c-2f1f4d1c9a10",
  "login_id":"kim.evaluator","email":"kim@example.org","user_name":"김평가","phone":"010-1234-5678",
  "role":"evaluator","is_active":true,"created_at":"2026-03-01T09:00:00.000Z","last_login":null})";

const char* const kRequestSchema = R"({"type":"object",
  "required":["id","name","login_id","email","phone","reason","status","created_at","decided_by",
  "decided_at","decision_reason"],
  "properties":{"id":{"type":"string","format":"uuid"},"name":{"type":"string"},
  "login_id":{"type":"string"},"email":{"type":"string","format":"email"},
  "phone":{"type":["string","null"]},"reason":{"type":["string","null"]},
  "status":{"type":"string","enum":["pending","approved","rejected"]},
  "created_at":{"type":"string","format":"date-time"},
  "decided_by":{"type":["string","null"],"description":"the admin who decided"},
  "decided_at":{"type":["string","null"],"format":"date-time"},
  "decision_reason":{"type":["string","null"]}}})";

const char* const kRequestExample = R"({"id":"5d1e0c7a-2b8f-4f3e-9a61-0c2d3e4f5a6b",
  "name":"이비서","login_id":"lee.secretary","email":"lee@agency.example","phone":"010-2222-3333",
  "reason":"한국 평가 주식회사 사업 담당","status":"pending","created_at":"2026-03-01T09:00:00.000Z",
  "decided_by":null,"decided_at":null,"decision_reason":null})";

const char* const kLoginIdRule =
    "3 to 64 characters: ASCII letters, digits, '.', '_', '-', '@', beginning with a letter or "
    "digit";
const char* const kPhoneRule = "3 to 20 characters: digits, spaces, + - ( ), at least 3 digits";

http::RouteSpec route(std::string method, std::string path, std::string tag, std::string summary,
                      std::vector<http::Role> roles, http::Handler handler) {
  return api::route(std::move(method), std::move(path), std::move(tag), std::move(summary), {},
                    std::move(roles), std::move(handler));
}

void add_id_param(http::RouteSpec& r, const char* what) { id_param(r, "id", what); }

domain::Audit audit_of(const Request& req, const RequestContext& ctx) {
  return {actor_of(ctx), auth::client_info(req, ctx)};
}

// --- body readers ------------------------------------------------------------------------------

// Runs `read` and, when it added no problem for the field, checks `ok` on the value.
template <class T, class Read, class Check>
T checked(http::Fields& f, Read read, Check ok, std::string_view field, const char* message,
          const char* code) {
  const auto before = f.errors().size();
  T v = read();
  if (f.errors().size() == before && !ok(v)) f.fail(std::string(field), message, code);
  return v;
}

std::string read_login_id(http::Fields& f) {
  return checked<std::string>(
      f, [&] { return f.required_string("login_id", 1, 64); }, domain::is_valid_login_id,
      "login_id", kLoginIdRule, "value_error.login_id");
}

std::string read_name(http::Fields& f, std::string_view field) {
  return checked<std::string>(
      f, [&] { return f.required_string(field, 1, kMaxName); },
      [](const std::string& s) { return !domain::has_control_chars(s); }, field,
      "Must not contain control characters", "value_error.control_characters");
}

std::string read_phone(http::Fields& f, bool required) {
  auto read = [&]() -> std::string {
    if (required) return f.required_string("phone", 1, 20);
    return f.optional_string("phone", 20).value_or("");
  };
  return checked<std::string>(
      f, read,
      [&](const std::string& s) { return s.empty() ? !required : domain::is_valid_phone(s); },
      "phone", kPhoneRule, "value_error.phone");
}

// The password (when given and readable) against the policy; its value is never echoed.
void check_password(http::Fields& f, const std::optional<std::string>& password,
                    const std::string& login_id, const std::string& email) {
  if (!password) return;
  for (const auto& e : auth::check_password_policy(*password, login_id, email, "password")) {
    f.fail(e.field, e.message, e.code);
  }
}

// A new user's fields. `with_role`: /api/users (role required); otherwise an evaluator whose
// password may be absent (invitation).
domain::NewUser read_new_user(http::Fields& f, bool with_role) {
  if (with_role) {
    f.reject_unknown({"login_id", "email", "user_name", "role", "password", "phone"});
  } else {
    f.reject_unknown({"login_id", "email", "user_name", "password", "phone"});
  }
  domain::NewUser u;
  u.login_id = read_login_id(f);
  u.email = f.required_email("email");
  u.user_name = read_name(f, "user_name");
  if (with_role) {
    const auto before = f.errors().size();
    if (!f.has("role")) {
      f.fail("role", "Field required", "value_error.missing");
    } else if (auto r = f.optional_enum("role", {"admin", "secretary", "evaluator"})) {
      u.role = *r;
    } else if (f.errors().size() == before) {
      f.fail("role", "Field required", "value_error.missing");
    }
  } else {
    u.role = "evaluator";
  }
  u.phone = read_phone(f, false);
  const auto before = f.errors().size();
  if (with_role) {
    u.password = f.required_string("password", 1, kMaxRawPassword);
  } else {
    u.password = f.optional_string("password", kMaxRawPassword);
  }
  if (f.errors().size() == before) check_password(f, u.password, u.login_id, u.email);
  return u;
}

// Problems of one batch item, renamed "evaluators[i].field".
void add_prefixed(std::vector<FieldError>& out, const std::vector<FieldError>& in, std::size_t i) {
  const std::string prefix = "evaluators[" + std::to_string(i) + "]";
  for (auto e : in) {
    e.field = prefix + "." + e.field;
    out.push_back(std::move(e));
  }
}

// Query filters: problems are collected, like a body's.
std::optional<bool> read_active(const Request& req, std::vector<FieldError>& problems) {
  auto v = http::query_param(req.query, "active");
  if (!v) return std::nullopt;
  if (*v == "true") return true;
  if (*v == "false") return false;
  problems.push_back({"active", "Must be true or false", "type_error.bool", v->substr(0, 64)});
  return std::nullopt;
}

std::string read_search(const Request& req, std::vector<FieldError>& problems) {
  auto v = http::query_param(req.query, "search");
  if (!v) return {};
  const auto len = http::utf8_length(*v);
  if (!len || *len > kMaxSearch || domain::has_control_chars(*v)) {
    problems.push_back(
        {"search", "Must be valid text of at most " + std::to_string(kMaxSearch) + " characters",
         "value_error.search", std::nullopt});
    return {};
  }
  return *v;
}

std::optional<std::string> read_enum_param(const Request& req, const char* name,
                                           std::initializer_list<std::string_view> allowed,
                                           std::vector<FieldError>& problems) {
  auto v = http::query_param(req.query, name);
  if (!v) return std::nullopt;
  for (auto a : allowed) {
    if (*v == a) return v;
  }
  std::string list;
  for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  problems.push_back({name, "Must be one of: " + list, "value_error.enum", v->substr(0, 64)});
  return std::nullopt;
}

json::array users_array(const std::vector<auth::User>& users) {
  json::array a;
  a.reserve(users.size());
  for (const auto& u : users) a.push_back(auth::user_json(u));
  return a;
}

struct Services {
  explicit Services(AppContext& app)
      : users(*app.db, app.clock, app.auth->sessions(), app.settings.auth,
              [&app] {
                if (app.outbox) app.outbox->poke();
              }),
        requests(*app.db, app.clock) {}
  domain::UserAdmin users;
  domain::SecretaryRequests requests;
};

// A users list: filters, paging, the page as JSON.
asio::awaitable<Response> list_users(net::WorkerPool& workers, domain::UserAdmin& users,
                                     const Request& req, domain::UserFilter filter,
                                     std::vector<FieldError> problems) {
  Where where;
  for (auto& c : domain::user_conditions(filter)) where.add_raw(c.sql, std::move(c.values));
  const Page page = read_page(req, where, problems);
  if (!problems.empty()) {
    co_return Response::from_error(ApiError::validation("Invalid query", std::move(problems)));
  }
  const std::string tail = newest_first(page);
  auto rows = co_await workers.run([&] { return users.list(where.sql(), where.params(), tail); });
  if (!rows) co_return Response::from_error(std::move(rows).error());
  json::object body;
  body["items"] = users_array(domain::users_from_rows(*rows, page.limit));
  body["next_cursor"] = next_cursor(*rows, page);
  co_return ok_json(body);
}

// --- /api/users ---------------------------------------------------------------------------------

void users_routes(AppContext& app, std::shared_ptr<Services> svc,
                  std::vector<http::RouteSpec>& routes) {
  auto& workers = *app.workers;
  const std::vector<http::Role> admin{http::Role::kAdmin};

  auto create =
      route("POST", "/api/users", "Users", "Create a user", admin,
            [&workers, svc](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
              auto body = http::parse_json_object(req);
              if (!body) co_return Response::from_error(std::move(body).error());
              http::Fields f(*body);
              auto user = read_new_user(f, true);
              if (!f.ok()) co_return Response::from_error(f.error());
              const auto audit = audit_of(req, ctx);
              auto made = co_await workers.run([&] { return svc->users.create(user, audit); });
              if (!made) co_return Response::from_error(std::move(made).error());
              co_return ok_json(auth::user_json(*made), 201);
            });
  create.description =
      std::string(
          "Creates an active user of any role with the given password (the password "
          "policy applies: 8 to 128 characters, not the login id or email, not a common "
          "password). login_id: ") +
      kLoginIdRule + "; email: unique ignoring case, stored in lower case; phone: " + kPhoneRule +
      ". Unknown fields are refused. Records the security event admin_user_created.";
  create.request_body = http::BodyDoc{
      "application/json",
      schema(R"({"type":"object","required":["login_id","email","user_name","role","password"],
        "additionalProperties":false,"properties":{
        "login_id":{"type":"string","minLength":3,"maxLength":64,"pattern":"^[A-Za-z0-9][A-Za-z0-9._@-]{2,63}$"},
        "email":{"type":"string","format":"email","maxLength":254},
        "user_name":{"type":"string","minLength":1,"maxLength":100},
        "role":{"type":"string","enum":["admin","secretary","evaluator"]},
        "password":{"type":"string","minLength":8,"maxLength":128,"format":"password"},
        "phone":{"type":["string","null"],"maxLength":20}}})"),
      schema(R"({"login_id":"park.secretary","email":"park@agency.example","user_name":"박비서",
        "role":"secretary","password":"a long secret phrase 42","phone":"010-1234-5678"})")};
  create.responses = {
      {201, "The new user", "application/json", schema(kUserSchema), schema(kUserExample)},
      error_doc(400, "Validation failed (every problem in details)"),
      error_doc(403, "Not an admin"),
      error_doc(409, "The login id or email is already in use (details name it)")};
  routes.push_back(std::move(create));

  auto list = route(
      "GET", "/api/users", "Users", "List users", admin,
      [&workers, svc](Request& req, RequestContext&) -> asio::awaitable<Response> {
        std::vector<FieldError> problems;
        domain::UserFilter filter;
        filter.role = read_enum_param(req, "role", {"admin", "secretary", "evaluator"}, problems);
        filter.active = read_active(req, problems);
        filter.search = read_search(req, problems);
        co_return co_await list_users(workers, svc->users, req, std::move(filter),
                                      std::move(problems));
      });
  list.description =
      "Newest first, paged with an opaque cursor. Filters are validated (an unknown role is 400).";
  list.params = {
      {"role", "query", false, "only this role",
       schema(R"({"type":"string","enum":["admin","secretary","evaluator"]})")},
      {"active", "query", false, "true: active users only; false: deactivated only",
       schema(R"({"type":"boolean"})")},
      {"search", "query", false,
       "login id, name or email contains this (case-insensitive), at most 100 characters",
       schema(R"({"type":"string","maxLength":100})")}};
  list_params(list);
  list.responses = {{200, "A page of users", "application/json", schema(list_schema(kUserSchema)),
                     schema(list_example(kUserExample))},
                    error_doc(400, "A bad filter, limit or cursor"),
                    error_doc(403, "Not an admin")};
  routes.push_back(std::move(list));

  auto get = route("GET", "/api/users/{id}", "Users", "One user", admin,
                   [&workers, svc](Request&, RequestContext& ctx) -> asio::awaitable<Response> {
                     const std::string id(ctx.param("id"));
                     if (!domain::is_uuid(id))
                       co_return Response::from_error(domain::not_found("User"));
                     auto user = co_await workers.run([&] { return svc->users.get(id); });
                     if (!user) co_return Response::from_error(std::move(user).error());
                     co_return ok_json(auth::user_json(*user));
                   });
  add_id_param(get, "the user's id");
  get.responses = {{200, "The user", "application/json", schema(kUserSchema), schema(kUserExample)},
                   error_doc(403, "Not an admin"),
                   error_doc(404, "No such user")};
  routes.push_back(std::move(get));

  auto patch =
      route("PATCH", "/api/users/{id}", "Users", "Update a user", admin,
            [&workers, svc](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
              const std::string id(ctx.param("id"));
              auto body = http::parse_json_object(req);
              if (!body) co_return Response::from_error(std::move(body).error());
              http::Fields f(*body);
              f.reject_unknown({"email", "user_name", "phone", "role", "is_active"});
              domain::UserPatch p;
              // Only phone may be cleared with null; the others are required properties of a user.
              for (const char* name : {"email", "user_name", "role", "is_active"}) {
                if (f.has(name) && body->at(name).is_null()) {
                  f.fail(name, "May not be null", "type_error.none.not_allowed");
                }
              }
              if (f.has("email") && !body->at("email").is_null())
                p.email = f.required_email("email");
              if (f.has("user_name") && !body->at("user_name").is_null()) {
                p.user_name = read_name(f, "user_name");
              }
              if (f.has("phone")) {
                auto phone = read_phone(f, false);
                p.phone = phone.empty() ? std::optional<std::string>() : std::optional(phone);
              }
              p.role = f.optional_enum("role", {"admin", "secretary", "evaluator"});
              p.is_active = f.optional_bool("is_active");
              if (!f.ok()) co_return Response::from_error(f.error());
              if (!domain::is_uuid(id)) co_return Response::from_error(domain::not_found("User"));
              const auto audit = audit_of(req, ctx);
              auto user = co_await workers.run([&] { return svc->users.update(id, p, audit); });
              if (!user) co_return Response::from_error(std::move(user).error());
              co_return ok_json(auth::user_json(*user));
            });
  add_id_param(patch, "the user's id");
  patch.description =
      "Only the fields given change; phone: null clears it. is_active: false deactivates and "
      "true reactivates. A role change or a deactivation revokes every session of the user (a "
      "token carries the role it was issued with), so they sign in again. An admin cannot "
      "deactivate or demote themself, nor the last active admin (422). Records "
      "admin_user_updated, admin_user_deactivated or admin_user_reactivated.";
  patch.request_body = http::BodyDoc{
      "application/json", schema(R"({"type":"object","additionalProperties":false,"properties":{
        "email":{"type":"string","format":"email","maxLength":254},
        "user_name":{"type":"string","minLength":1,"maxLength":100},
        "phone":{"type":["string","null"],"maxLength":20},
        "role":{"type":"string","enum":["admin","secretary","evaluator"]},
        "is_active":{"type":"boolean"}}})"),
      schema(R"({"user_name":"김평가위원","role":"secretary"})")};
  patch.responses = {
      {200, "The updated user", "application/json", schema(kUserSchema), schema(kUserExample)},
      error_doc(400, "Validation failed"),
      error_doc(403, "Not an admin"),
      error_doc(404, "No such user"),
      error_doc(409, "The email is already in use"),
      error_doc(422, "Yourself or the last active admin: may not be deactivated or demoted")};
  routes.push_back(std::move(patch));

  auto del = route("DELETE", "/api/users/{id}", "Users", "Deactivate a user", admin,
                   [&workers, svc](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
                     const std::string id(ctx.param("id"));
                     if (!domain::is_uuid(id))
                       co_return Response::from_error(domain::not_found("User"));
                     const auto audit = audit_of(req, ctx);
                     auto user =
                         co_await workers.run([&] { return svc->users.deactivate(id, audit); });
                     if (!user) co_return Response::from_error(std::move(user).error());
                     co_return no_content();
                   });
  add_id_param(del, "the user's id");
  del.description =
      "Deactivates: the row stays (sheets keep their evaluator), every session is revoked at "
      "once, open password-reset links are spent, and sign-in is refused. Deactivating an "
      "inactive user changes nothing (204). Reactivate with PATCH is_active=true. Records "
      "admin_user_deactivated.";
  del.responses = {{204, "Deactivated", "", {}, {}},
                   error_doc(403, "Not an admin"),
                   error_doc(404, "No such user"),
                   error_doc(422, "Yourself or the last active admin")};
  routes.push_back(std::move(del));
}

// --- /api/evaluators ----------------------------------------------------------------------------

void evaluator_routes(AppContext& app, std::shared_ptr<Services> svc,
                      std::vector<http::RouteSpec>& routes) {
  auto& workers = *app.workers;
  const std::string evaluator_body =
      R"({"type":"object","required":["login_id","email","user_name"],
        "additionalProperties":false,"properties":{
        "login_id":{"type":"string","minLength":3,"maxLength":64,"pattern":"^[A-Za-z0-9][A-Za-z0-9._@-]{2,63}$"},
        "email":{"type":"string","format":"email","maxLength":254},
        "user_name":{"type":"string","minLength":1,"maxLength":100},
        "phone":{"type":["string","null"],"maxLength":20},
        "password":{"type":["string","null"],"minLength":8,"maxLength":128,"format":"password",
          "description":"absent: an invitation mail lets the evaluator choose one"}}})";

  auto list = route("GET", "/api/evaluators", "Evaluators", "List evaluators", kStaff,
                    [&workers, svc](Request& req, RequestContext&) -> asio::awaitable<Response> {
                      std::vector<FieldError> problems;
                      domain::UserFilter filter;
                      filter.role = "evaluator";
                      filter.active = read_active(req, problems);
                      filter.search = read_search(req, problems);
                      co_return co_await list_users(workers, svc->users, req, std::move(filter),
                                                    std::move(problems));
                    });
  list.description = "Users with the evaluator role, newest first, paged with an opaque cursor.";
  list.params = {
      {"active", "query", false, "true: active only; false: deactivated only",
       schema(R"({"type":"boolean"})")},
      {"search", "query", false, "login id, name or email contains this (case-insensitive)",
       schema(R"({"type":"string","maxLength":100})")}};
  list_params(list);
  list.responses = {{200, "A page of evaluators", "application/json",
                     schema(list_schema(kUserSchema)), schema(list_example(kUserExample))},
                    error_doc(400, "A bad filter, limit or cursor"),
                    error_doc(403, "Not a secretary or admin")};
  routes.push_back(std::move(list));

  auto create =
      route("POST", "/api/evaluators", "Evaluators", "Create an evaluator", kStaff,
            [&workers, svc](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
              auto body = http::parse_json_object(req);
              if (!body) co_return Response::from_error(std::move(body).error());
              http::Fields f(*body);
              auto user = read_new_user(f, false);
              if (!f.ok()) co_return Response::from_error(f.error());
              const auto audit = audit_of(req, ctx);
              auto made = co_await workers.run([&] { return svc->users.create(user, audit); });
              if (!made) co_return Response::from_error(std::move(made).error());
              co_return ok_json(auth::user_json(*made), 201);
            });
  create.description =
      std::string(
          "Creates an active evaluator. With a password (the password policy applies) "
          "the evaluator signs in with it; without one, the account gets an unusable "
          "random password and an invitation mail with a single-use link to "
          "FRONTEND_URL/reset-password (valid RESET_TOKEN_EXPIRY_HOURS) where they choose "
          "their own. login_id: ") +
      kLoginIdRule + ". Records admin_user_created.";
  create.request_body = http::BodyDoc{
      "application/json", schema(evaluator_body),
      schema(R"({"login_id":"kim.evaluator","email":"kim@example.org","user_name":"김평가",
        "phone":"010-1234-5678"})")};
  create.responses = {
      {201, "The new evaluator", "application/json", schema(kUserSchema), schema(kUserExample)},
      error_doc(400, "Validation failed"),
      error_doc(403, "Not a secretary or admin"),
      error_doc(409, "The login id or email is already in use")};
  routes.push_back(std::move(create));

  auto batch = route(
      "POST", "/api/evaluators/batch", "Evaluators", "Create evaluators in one batch", kStaff,
      [&workers, svc](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
        auto body = http::parse_json_object(req);
        if (!body) co_return Response::from_error(std::move(body).error());
        http::Fields f(*body);
        f.reject_unknown({"evaluators"});
        const json::array* items = f.optional_array("evaluators", domain::kMaxEvaluatorBatch);
        if (f.ok() && !items) f.fail("evaluators", "Field required", "value_error.missing");
        if (items && items->empty()) {
          f.fail("evaluators", "At least one evaluator", "value_error.list.min_items");
        }
        std::vector<FieldError> problems = f.errors();
        std::vector<domain::NewUser> users;
        std::size_t with_password = 0;
        if (items) {
          users.reserve(items->size());
          for (std::size_t i = 0; i < items->size(); ++i) {
            const auto& item = (*items)[i];
            if (!item.is_object()) {
              problems.push_back({"evaluators[" + std::to_string(i) + "]",
                                  "Must be an object",
                                  "type_error.object",
                                  {}});
              continue;
            }
            http::Fields itf(item.as_object());
            users.push_back(read_new_user(itf, false));
            if (users.back().password) ++with_password;
            add_prefixed(problems, itf.errors(), i);
          }
        }
        if (with_password > domain::kMaxHashedPerBatch) {
          problems.push_back({"evaluators",
                              "At most " + std::to_string(domain::kMaxHashedPerBatch) +
                                  " evaluators of a batch may carry a password; invite the others "
                                  "(leave password out)",
                              "value_error.list.max_passwords",
                              {}});
        }
        if (!problems.empty()) {
          co_return Response::from_error(
              ApiError::validation("Request validation failed", std::move(problems)));
        }
        const auto audit = audit_of(req, ctx);
        auto made =
            co_await workers.run([&] { return svc->users.create_evaluators(users, audit); });
        if (!made) co_return Response::from_error(std::move(made).error());
        json::object out;
        out["created"] = made->size();
        out["items"] = users_array(*made);
        co_return ok_json(out, 201);
      });
  batch.description =
      "1 to 500 evaluators, all or nothing: any problem and nothing is created. Field problems "
      "are named evaluators[i].field (400); a login id or email used twice in the batch or "
      "already in use is 409 with one detail per item. Each item is the body of POST "
      "/api/evaluators; at most 100 items may carry a password (each costs an argon2id hash), "
      "the others are invited by mail. Items come back in the order sent. Rate category bulk. "
      "Records admin_users_batch_created.";
  batch.rate_category = http::RateCategory::kBulk;
  batch.request_body = http::BodyDoc{
      "application/json",
      schema(std::string(R"({"type":"object","required":["evaluators"],"additionalProperties":false,
        "properties":{"evaluators":{"type":"array","minItems":1,"maxItems":500,"items":)") +
             evaluator_body + "}}}"),
      schema(R"({"evaluators":[{"login_id":"kim.evaluator","email":"kim@example.org",
        "user_name":"김평가"},{"login_id":"choi.evaluator","email":"choi@example.org",
        "user_name":"최평가","password":"a long secret phrase 42"}]})")};
  batch.responses = {
      {201, "Created", "application/json",
       schema(std::string(R"({"type":"object","required":["created","items"],"properties":{
         "created":{"type":"integer"},"items":{"type":"array","items":)") +
              kUserSchema + "}}}"),
       schema(std::string(R"({"created":1,"items":[)") + kUserExample + "]}")},
      error_doc(400, "Validation failed (details evaluators[i].field)"),
      error_doc(403, "Not a secretary or admin"),
      error_doc(409, "Duplicates in the batch or with existing users (details per item)")};
  routes.push_back(std::move(batch));
}

// --- secretary sign-up and approval ----------------------------------------------------------

void secretary_routes(AppContext& app, std::shared_ptr<Services> svc,
                      std::vector<http::RouteSpec>& routes) {
  auto& workers = *app.workers;
  const std::vector<http::Role> admin{http::Role::kAdmin};

  auto signup = route(
      "POST", "/auth/secretary-signup", "Secretary sign-up", "Ask for a secretary account", {},
      [&workers, svc](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
        auto body = http::parse_json_object(req);
        if (!body) co_return Response::from_error(std::move(body).error());
        http::Fields f(*body);
        f.reject_unknown({"name", "login_id", "email", "phone", "reason", "password"});
        domain::SignupInput in;
        in.name = read_name(f, "name");
        in.login_id = read_login_id(f);
        in.email = f.required_email("email");
        in.phone = read_phone(f, true);
        in.reason = checked<std::string>(
            f, [&] { return f.required_string("reason", 1, kMaxReason); },
            [](const std::string& s) { return !domain::has_control_chars(s, true); }, "reason",
            "Must not contain control characters", "value_error.control_characters");
        const auto before = f.errors().size();
        in.password = f.required_string("password", 1, kMaxRawPassword);
        if (f.errors().size() == before) check_password(f, in.password, in.login_id, in.email);
        if (!f.ok()) co_return Response::from_error(f.error());
        const auto client = auth::client_info(req, ctx);
        auto st = co_await workers.run([&] { return svc->requests.submit(in, client); });
        if (!st) co_return Response::from_error(st.error());
        co_return ok_json(
            json::object{{"status", "pending"},
                         {"message",
                          "Your request was received. An administrator will review it; once it "
                          "is approved you can sign in with the login id and password you chose."}},
            202);
      });
  signup.is_public = true;
  signup.rate_category = http::RateCategory::kLogin;
  signup.description =
      std::string(
          "Stores a request for a secretary account, which an admin approves or rejects. "
          "The answer is the same whether or not the login id or email is taken (a "
          "taken one simply cannot be approved); only invalid input is refused (400). "
          "Until approval nobody can sign in with it. The password policy applies. "
          "login_id: ") +
      kLoginIdRule + "; phone: " + kPhoneRule + ". Rate category login.";
  signup.request_body = http::BodyDoc{
      "application/json",
      schema(R"({"type":"object","required":["name","login_id","email","phone","reason","password"],
        "additionalProperties":false,"properties":{
        "name":{"type":"string","minLength":1,"maxLength":100},
        "login_id":{"type":"string","minLength":3,"maxLength":64,"pattern":"^[A-Za-z0-9][A-Za-z0-9._@-]{2,63}$"},
        "email":{"type":"string","format":"email","maxLength":254},
        "phone":{"type":"string","maxLength":20},
        "reason":{"type":"string","minLength":1,"maxLength":1000},
        "password":{"type":"string","minLength":8,"maxLength":128,"format":"password"}}})"),
      schema(R"({"name":"이비서","login_id":"lee.secretary","email":"lee@agency.example",
        "phone":"010-2222-3333","reason":"한국 평가 주식회사 사업 담당",
        "password":"a long secret phrase 42"})")};
  signup.responses = {
      {202, "Received, waiting for an admin", "application/json",
       schema(R"({"type":"object","required":["status","message"],"properties":{
         "status":{"type":"string","enum":["pending"]},"message":{"type":"string"}}})"),
       schema(
           R"({"status":"pending","message":"Your request was received. An administrator will review it; once it is approved you can sign in with the login id and password you chose."})")},
      error_doc(400, "Validation failed"),
      error_doc(429, "Too many requests"),
      error_doc(503, "The database is unavailable; retry shortly")};
  routes.push_back(std::move(signup));

  auto list =
      route("GET", "/api/admin/secretary-requests", "Secretary sign-up", "List secretary requests",
            admin, [&workers, svc](Request& req, RequestContext&) -> asio::awaitable<Response> {
              std::vector<FieldError> problems;
              const auto status =
                  read_enum_param(req, "status", {"pending", "approved", "rejected"}, problems);
              Where where;
              for (auto& c : domain::secretary_request_conditions(status)) {
                where.add_raw(c.sql, std::move(c.values));
              }
              const Page page = read_page(req, where, problems);
              if (!problems.empty()) {
                co_return Response::from_error(ApiError::validation("Invalid query", problems));
              }
              const std::string tail = newest_first(page);
              auto rows = co_await workers.run(
                  [&] { return svc->requests.list(where.sql(), where.params(), tail); });
              if (!rows) co_return Response::from_error(std::move(rows).error());
              json::array items;
              for (const auto& r : domain::secretary_requests_from_rows(*rows, page.limit)) {
                items.push_back(domain::secretary_request_json(r));
              }
              json::object body;
              body["items"] = std::move(items);
              body["next_cursor"] = next_cursor(*rows, page);
              co_return ok_json(body);
            });
  list.description = "Newest first, paged with an opaque cursor. Never carries the password.";
  list.params = {{"status", "query", false, "only this status",
                  schema(R"({"type":"string","enum":["pending","approved","rejected"]})")}};
  list_params(list);
  list.responses = {{200, "A page of requests", "application/json",
                     schema(list_schema(kRequestSchema)), schema(list_example(kRequestExample))},
                    error_doc(400, "A bad status, limit or cursor"),
                    error_doc(403, "Not an admin")};
  routes.push_back(std::move(list));

  auto approve =
      route("POST", "/api/admin/secretary-requests/{id}/approve", "Secretary sign-up",
            "Approve a request: creates the secretary", admin,
            [&workers, svc](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
              const std::string id(ctx.param("id"));
              if (!domain::is_uuid(id)) {
                co_return Response::from_error(domain::not_found("Secretary request"));
              }
              const auto audit = audit_of(req, ctx);
              auto user = co_await workers.run([&] { return svc->requests.approve(id, audit); });
              if (!user) co_return Response::from_error(std::move(user).error());
              co_return ok_json(auth::user_json(*user), 201);
            });
  add_id_param(approve, "the request's id");
  approve.description =
      "Creates an active secretary with the request's name, login id, email, phone and the "
      "password chosen at sign-up. 409 when the request was already decided, or when its login "
      "id or email is in use by now (the request then stays pending: reject it). No body is "
      "read. Records secretary_request_approved.";
  approve.responses = {
      {201, "The new secretary", "application/json", schema(kUserSchema), schema(kUserExample)},
      error_doc(403, "Not an admin"),
      error_doc(404, "No such request"),
      error_doc(409, "Already decided, or the login id or email is taken")};
  routes.push_back(std::move(approve));

  auto reject = route(
      "POST", "/api/admin/secretary-requests/{id}/reject", "Secretary sign-up", "Reject a request",
      admin, [&workers, svc](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
        const std::string id(ctx.param("id"));
        std::optional<std::string> reason;
        // The body is optional: none, or a JSON object {reason?}.
        if (!req.body.empty()) {
          auto body = http::parse_json_object(req);
          if (!body) co_return Response::from_error(std::move(body).error());
          http::Fields f(*body);
          f.reject_unknown({"reason"});
          reason = f.optional_string("reason", kMaxReason);
          if (reason && domain::has_control_chars(*reason, true)) {
            f.fail("reason", "Must not contain control characters",
                   "value_error.control_characters");
          }
          if (!f.ok()) co_return Response::from_error(f.error());
        }
        if (!domain::is_uuid(id)) {
          co_return Response::from_error(domain::not_found("Secretary request"));
        }
        const auto audit = audit_of(req, ctx);
        auto r = co_await workers.run([&] { return svc->requests.reject(id, reason, audit); });
        if (!r) co_return Response::from_error(std::move(r).error());
        co_return ok_json(domain::secretary_request_json(*r));
      });
  add_id_param(reject, "the request's id");
  reject.description =
      "Marks the request rejected (decision_reason: the optional reason, at most 1,000 "
      "characters). The body may be empty. 409 when already decided. Records "
      "secretary_request_rejected.";
  reject.request_body = http::BodyDoc{
      "application/json", schema(R"({"type":"object","additionalProperties":false,"properties":{
        "reason":{"type":["string","null"],"maxLength":1000}}})"),
      schema(R"({"reason":"소속 기관을 확인할 수 없습니다"})")};
  reject.responses = {{200, "The rejected request", "application/json", schema(kRequestSchema),
                       schema(kRequestExample)},
                      error_doc(400, "Validation failed"),
                      error_doc(403, "Not an admin"),
                      error_doc(404, "No such request"),
                      error_doc(409, "Already decided")};
  routes.push_back(std::move(reject));
}

}  // namespace

std::vector<http::RouteSpec> user_routes(AppContext& app) {
  auto svc = std::make_shared<Services>(app);
  std::vector<http::RouteSpec> routes;
  users_routes(app, svc, routes);
  evaluator_routes(app, svc, routes);
  secretary_routes(app, svc, routes);
  return routes;
}

}  // namespace evald::api
