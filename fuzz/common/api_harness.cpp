#include "common/api_harness.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>

#include "api/routes.hpp"
#include "app/app_context.hpp"
#include "auth/sessions.hpp"
#include "common/scratch.hpp"
#include "db/backup.hpp"
#include "db/migrations.hpp"
#include "http/dispatcher.hpp"
#include "http/error_body.hpp"
#include "http/router.hpp"
#include "log/log.hpp"

namespace evald::fuzz {
namespace {

namespace json = boost::json;

struct Harness {
  std::unique_ptr<AppContext> app;
  std::unique_ptr<http::Router> router;
  std::map<std::string, std::string> ids;
  std::map<std::string, http::Principal> principals;  // by role
  std::string snapshot;
  std::uint64_t queries_seen = 0;
};

Harness& harness() {
  static Harness h;
  return h;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string substitute(std::string s) {
  const auto& ids = harness().ids;
  for (std::size_t pos = s.find('$'); pos != std::string::npos; pos = s.find('$', pos)) {
    std::size_t end = pos + 1;
    while (end < s.size() && ((s[end] >= 'a' && s[end] <= 'z') || s[end] == '_')) ++end;
    const auto it = ids.find(s.substr(pos + 1, end - pos - 1));
    if (it == ids.end()) {
      ++pos;
      continue;
    }
    s.replace(pos, end - pos, it->second);
    pos += it->second.size();
  }
  return s;
}

std::string describe(const ApiCall& call, const http::Response* res) {
  std::string out = call.method + " " + call.target + (call.role.empty() ? "" : " as " + call.role);
  out += "\nbody (" + std::to_string(call.body.size()) + " bytes): " + call.body.substr(0, 2000);
  if (res) {
    out += "\nstatus " + std::to_string(res->status);
    if (res->error) {
      out += " " + std::string(error_info(res->error->code).code) + ": " + res->error->message;
      if (!res->error->internal_detail.empty()) out += " (" + res->error->internal_detail + ")";
    } else {
      out += "\nresponse: " + res->body.substr(0, 2000);
    }
  }
  return out;
}

bool is_json_type(std::string_view ct) {
  ct = ct.substr(0, ct.find(';'));
  return ct == "application/json" || (ct.size() > 5 && ct.substr(ct.size() - 5) == "+json");
}

void check_response(const ApiCall& call, const http::Response& res) {
  if (res.status >= 500) broken("a handler answered 5xx", describe(call, &res));
  for (const auto& [k, v] : res.headers.fields()) {
    for (unsigned char c : v) {
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        broken("a response header value holds a control character", describe(call, &res));
      }
    }
  }
  if (res.error) {
    // As the request-id layer renders it, internal detail included (development).
    const auto body = http::render_error_body(*res.error, "fuzz-request-0000",
                                              std::chrono::system_clock::now(), true);
    if (!is_valid_json(body)) broken("an error body is not valid JSON", describe(call, &res));
    return;
  }
  const auto ct = res.headers.get("Content-Type").value_or("");
  if (is_json_type(ct) && !res.body.empty() && !is_valid_json(res.body)) {
    broken("a JSON response body is not valid JSON", describe(call, &res));
  }
}

// Runs the handler to completion on a private io_context (the worker pool does the blocking
// work, as in the server), through the pipeline's terminal step as the server calls it: the
// query-string check it makes before any handler runs included.
http::Response invoke(const ApiCall& call, http::Request& req, http::RequestContext& ctx) {
  boost::asio::io_context ioc(1);
  std::optional<http::Response> out;
  std::exception_ptr error;
  http::RouteTerminal terminal;
  boost::asio::co_spawn(ioc, terminal.handle(req, ctx),
                        [&](std::exception_ptr e, http::Response r) {
                          if (e) {
                            error = e;
                          } else {
                            out = std::move(r);
                          }
                        });
  ioc.run();
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      broken(std::string("a handler threw: ") + e.what(), describe(call, nullptr));
    } catch (...) {
      broken("a handler threw a non-standard exception", describe(call, nullptr));
    }
  }
  if (!out) broken("a handler did not complete", describe(call, nullptr));
  return std::move(*out);
}

ApiOutcome run_unchecked(const ApiCall& call) {
  auto& h = harness();
  ApiOutcome outcome;
  http::Request req;
  req.method = call.method;
  req.target = substitute(call.target);
  const auto q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) req.query = req.target.substr(q + 1);
  bool has_type = false;
  for (const auto& [k, v] : call.headers) {
    req.headers.add(k, substitute(v));
    has_type = has_type || http::iequals(k, "Content-Type");
  }
  if (!has_type) req.headers.add("Content-Type", "application/json");
  req.headers.add("User-Agent", "evald-fuzz");
  req.body = substitute(call.body);

  auto match = h.router->match(req.method, req.path);
  if (!match.route) return outcome;
  const http::RouteSpec& route = *match.route;

  http::RequestContext ctx;
  ctx.request_id = "fuzz-request-0000";
  ctx.start = std::chrono::steady_clock::now();
  ctx.peer_ip = ctx.client_ip = "127.0.0.1";
  ctx.route = &route;
  ctx.path_params = std::move(match.params);
  if (!route.is_public) {
    // What the authentication layer lets through: a signed-in user of an allowed role.
    std::string role = call.role;
    if (role.empty()) role = route.roles.empty() ? "admin" : std::string(to_string(route.roles[0]));
    const bool allowed =
        route.roles.empty() || std::any_of(route.roles.begin(), route.roles.end(),
                                           [&](http::Role r) { return to_string(r) == role; });
    const auto p = h.principals.find(role);
    if (!allowed || p == h.principals.end()) return outcome;
    ctx.principal = p->second;
    ctx.authenticated = true;
  }
  outcome.routed = true;
  outcome.response = invoke(call, req, ctx);
  return outcome;
}

// The id in a creation's answer.
std::string id_of(const http::Response& res, std::string_view what) {
  json::error_code ec;
  auto v = json::parse(res.body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("id") || !v.at("id").is_string()) {
    broken(std::string("seeding: no id in the answer for ") + std::string(what),
           std::to_string(res.status) + " " + res.body +
               (res.error ? " " + res.error->message + " " + res.error->internal_detail : ""));
  }
  return std::string(v.at("id").as_string());
}

http::Response seed_call(std::string script, unsigned want) {
  auto call = parse_api_call(script);
  if (!call) broken("seeding: bad script", script);
  auto out = run_unchecked(*call);
  if (!out.routed || out.response.status != want) {
    broken("seeding step failed",
           describe(*call, &out.response) + "\n" +
               (out.response.error ? out.response.error->internal_detail : std::string()));
  }
  return out.response;
}

void sign_in(const std::string& role, const std::string& login_id, const std::string& password) {
  auto& h = harness();
  auto res = seed_call(
      "POST /auth/login\n\n{\"login_id\":\"" + login_id + "\",\"password\":\"" + password + "\"}",
      200);
  const auto v = json::parse(res.body);
  const auto token = std::string(v.at("access_token").as_string());
  auto claims = h.app->auth->verify_token(token);
  if (!claims) broken("seeding: the login's token does not verify");
  h.principals[role] =
      http::Principal{claims->user_id, role, auth::SessionManager::public_id(claims->session_id)};
  h.ids[role] = claims->user_id;
}

void seed() {
  auto& h = harness();
  const std::string password = "fuzzing evald all day 42";
  sign_in("admin", "admin", password);
  seed_call(R"(POST /api/users as admin

{"login_id":"sec","email":"sec@example.org","user_name":"Sec","role":"secretary","password":")" +
                password + "\"}",
            201);
  sign_in("secretary", "sec", password);
  seed_call(R"(POST /api/evaluators as admin

{"login_id":"eva","email":"eva@example.org","user_name":"Eva","password":")" +
                password + "\"}",
            201);
  sign_in("evaluator", "eva", password);
  h.ids["project"] = id_of(seed_call(R"(POST /api/projects as admin

{"name":"Fuzz project","start_date":"2026-03-01","end_date":"2026-06-30"})",
                                     201),
                           "project");
  h.ids["company"] = id_of(seed_call(R"(POST /api/projects/$project/companies as admin

{"name":"Fuzz company","registration_number":"1248100998","contact_email":"c@example.org"})",
                                     201),
                           "company");
  const auto tmpl = seed_call(R"(POST /api/templates as admin

{"name":"Fuzz template","project_id":"$project","items":[
 {"name":"Business","min_score":0,"max_score":30,"weight":2},
 {"name":"Bonus","min_score":0,"max_score":5,"is_required":false,"bonus":true}]})",
                              201);
  h.ids["template"] = id_of(tmpl, "template");
  h.ids["item"] = std::string(json::parse(tmpl.body).at("items").at(0).at("id").as_string());
  seed_call("POST /api/templates/$template/activate as admin\n\n", 200);
  h.ids["sheet"] = id_of(seed_call(R"(POST /api/assignments as admin

{"project_id":"$project","evaluator_id":"$evaluator","company_id":"$company","template_id":"$template"})",
                                   201),
                         "assignment");
  h.ids["file"] = id_of(seed_call("POST /api/companies/$company/files as admin\n"
                                  "Content-Type: multipart/form-data; boundary=XyZ\n\n"
                                  "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; "
                                  "filename=\"notes.txt\"\r\nContent-Type: text/plain\r\n\r\n"
                                  "plain notes\r\n--XyZ--\r\n",
                                  201),
                        "file");
  seed_call(R"(POST /auth/secretary-signup

{"name":"Lee","login_id":"lee","email":"lee@example.org","phone":"010-2222-3333",
 "reason":"Fuzz","password":")" +
                password + "\"}",
            202);
  auto request = h.app->db->query("SELECT id FROM secretary_requests WHERE login_id = $1",
                                  {std::string("lee")});
  if (!request || request->size() != 1) broken("seeding: the secretary request is not there");
  h.ids["request"] = request->text(0, "id");
}

}  // namespace

std::optional<ApiCall> parse_api_call(std::string_view data) {
  ApiCall call;
  auto next_line = [&]() -> std::optional<std::string_view> {
    if (data.empty()) return std::nullopt;
    const auto nl = data.find('\n');
    auto line = data.substr(0, nl);
    data = nl == std::string_view::npos ? std::string_view() : data.substr(nl + 1);
    return line;
  };
  auto first = next_line();
  if (!first) return std::nullopt;
  auto line = trim(*first);
  const auto sp = line.find(' ');
  if (sp == std::string_view::npos || sp == 0) return std::nullopt;
  call.method = std::string(line.substr(0, sp));
  line = trim(line.substr(sp + 1));
  const auto sp2 = line.find(' ');
  call.target = std::string(line.substr(0, sp2));
  if (call.target.empty() || call.target.front() != '/') return std::nullopt;
  if (sp2 != std::string_view::npos) {
    auto rest = trim(line.substr(sp2 + 1));
    if (rest.substr(0, 3) != "as ") return std::nullopt;
    call.role = std::string(trim(rest.substr(3)));
  }
  while (auto l = next_line()) {
    auto h = trim(*l);
    if (h.empty()) break;
    const auto colon = h.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    call.headers.emplace_back(std::string(trim(h.substr(0, colon))),
                              std::string(trim(h.substr(colon + 1))));
  }
  call.body = std::string(data);
  return call;
}

void init_api_harness() {
  auto& h = harness();
  if (h.app) return;
  auto settings = scratch_settings();
  log::init(settings.log);
  check_sql_text_is_utf8();
  h.app = std::make_unique<AppContext>(settings);
  if (auto m = db::migrate(*h.app->db); !m) broken("migrate failed", m.error().message);
  if (auto made = h.app->auth->bootstrap_admin(); !made || !*made) {
    broken("bootstrap_admin failed");
  }
  h.router = std::make_unique<http::Router>(api::all_routes(*h.app));
  seed();
  h.snapshot = scratch_dir() + "/seeded.backup";
  if (auto b = db::write_backup(*h.app->db, h.snapshot, "fuzz"); !b) {
    broken("snapshot failed", b.error().message + " " + b.error().internal_detail);
  }
  h.queries_seen = h.app->db->monitor().total_queries();
}

std::vector<ApiCall> parse_api_script(std::string_view data) {
  std::vector<ApiCall> calls;
  while (calls.size() < 4) {
    auto sep = data.find("\n###\n");
    if (data.substr(0, 4) == "###\n") sep = 0;
    if (auto c = parse_api_call(data.substr(0, sep))) calls.push_back(std::move(*c));
    if (sep == std::string_view::npos) break;
    data.remove_prefix(sep + (sep == 0 ? 4 : 5));
  }
  return calls;
}

std::vector<ApiOutcome> run_api_script(const std::vector<ApiCall>& calls) {
  init_api_harness();
  auto& h = harness();
  static const bool verbose = std::getenv("EVALD_FUZZ_VERBOSE") != nullptr;
  std::vector<ApiOutcome> outcomes;
  for (const auto& call : calls) {
    auto outcome = run_unchecked(call);
    const auto& r = outcome.response;
    if (outcome.routed) check_response(call, r);
    if (verbose) {
      std::cerr << "evald-fuzz: " << call.method << " " << call.target << " -> "
                << (outcome.routed ? std::to_string(r.status) : std::string("not routed"))
                << (r.error ? " " + r.error->message + " " + r.error->internal_detail : "");
      if (r.error) {
        for (const auto& d : r.error->details)
          std::cerr << " [" << d.field << ": " << d.message << "]";
      }
      std::cerr << "\n";
    }
    // $last: the id the call answered with, for the next call of this input.
    h.ids.erase("last");
    if (outcome.routed && r.status < 300 && !r.error) {
      json::error_code ec;
      auto v = json::parse(r.body, ec);
      if (!ec && v.is_object()) {
        if (const auto* id = v.as_object().if_contains("id"); id && id->is_string()) {
          h.ids["last"] = std::string(id->as_string());
        }
      }
    }
    outcomes.push_back(std::move(outcome));
  }
  h.ids.erase("last");
  if (h.app->db->monitor().total_queries() != h.queries_seen) {
    db::RestoreOptions force;
    force.force = true;
    if (auto r = db::restore_backup(*h.app->db, h.snapshot, force); !r) {
      broken("restoring the seeded snapshot failed", r.error().message);
    }
    for (const char* role : {"admin", "secretary", "evaluator"}) {
      h.app->auth->sessions().forget_user(h.ids[role]);
    }
    h.queries_seen = h.app->db->monitor().total_queries();
  }
  return outcomes;
}

const std::map<std::string, std::string>& seeded_ids() { return harness().ids; }

}  // namespace evald::fuzz
