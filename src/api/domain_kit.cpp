#include "api/domain_kit.hpp"

#include "domain/projects.hpp"
#include "http/query.hpp"

namespace evald::api {

namespace json = boost::json;

http::RouteSpec route(std::string method, std::string path, std::string tag, std::string summary,
                      std::string description, std::vector<http::Role> roles,
                      http::Handler handler) {
  http::RouteSpec r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.tag = std::move(tag);
  r.summary = std::move(summary);
  r.description = std::move(description);
  r.roles = std::move(roles);
  r.handler = std::move(handler);
  return r;
}

void id_param(http::RouteSpec& r, const char* name, const char* what) {
  r.params.push_back({name, "path", true, what, schema(R"({"type":"string","format":"uuid"})")});
}

void list_params(http::RouteSpec& r) {
  r.params.push_back({"limit", "query", false, "1 to 200, default 50",
                      schema(R"({"type":"integer","minimum":1,"maximum":200})")});
  r.params.push_back({"cursor", "query", false, "next_cursor of the previous page",
                      schema(R"({"type":"string"})")});
}

void query_params(http::RouteSpec& r,
                  std::initializer_list<std::pair<const char*, const char*>> list) {
  for (auto [name, desc] : list) {
    r.params.push_back({name, "query", false, desc, schema(R"({"type":"string"})")});
  }
}

http::ResponseDoc error_doc(unsigned status, std::string description) {
  return {status, std::move(description), "application/json", {}, {}};
}

void errors(http::RouteSpec& r, std::initializer_list<std::pair<unsigned, const char*>> list) {
  for (auto [status, what] : list) r.responses.push_back(error_doc(status, what));
}

std::string list_schema(std::string_view item_schema) {
  return std::string(R"({"type":"object","required":["items","next_cursor"],"properties":{)") +
         R"("items":{"type":"array","items":)" + std::string(item_schema) +
         R"(},"next_cursor":{"type":["string","null"]}}})";
}

std::string list_example(std::string_view item_example) {
  return std::string(R"({"items":[)") + std::string(item_example) + R"(],"next_cursor":null})";
}

std::string with_required(const char* input, const char* required) {
  std::string s(input);
  return s.substr(0, s.size() - 1) + R"(,"required":)" + required + "}";
}

domain::Actor actor_of(const http::RequestContext& ctx) {
  return domain::Actor{ctx.principal->user_id, ctx.principal->role};
}

Result<json::object> body_object(const http::Request& req, bool allow_empty) {
  if (allow_empty && req.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    return json::object{};
  }
  return http::parse_json_object(req);
}

std::optional<http::Response> read_body(const http::Request& req, json::object& out) {
  auto body = body_object(req, false);
  if (!body) return http::Response::from_error(std::move(body).error());
  out = std::move(*body);
  return std::nullopt;
}

http::Response answer(Result<json::object> r, unsigned status) {
  if (!r) return http::Response::from_error(std::move(r).error());
  return ok_json(*r, status);
}

http::Response no_content() {
  http::Response r;
  r.status = 204;
  return r;
}

namespace fields {

void check_text(http::Fields& f, std::string_view name, std::string_view v) {
  for (unsigned char c : v) {
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
      f.fail(std::string(name), "Must not contain control characters",
             "value_error.control_characters");
      return;
    }
  }
}

namespace {

bool is_blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

}  // namespace

std::string read_name(http::Fields& f, std::string_view field, std::size_t max) {
  auto s = f.required_string(field, 1, max);
  if (!s.empty() && is_blank(s))
    f.fail(std::string(field), "Must not be blank", "value_error.blank");
  check_text(f, field, s);
  return s;
}

std::optional<std::string> read_text(http::Fields& f, std::string_view field, std::size_t max) {
  auto s = f.optional_string(field, max);
  if (s) check_text(f, field, *s);
  return s;
}

std::optional<std::string> read_string(http::Fields& f, std::string_view field, std::size_t max) {
  const auto before = f.errors().size();
  auto s = f.optional_string(field, max);
  if (f.errors().size() != before) return std::nullopt;
  return s;
}

std::optional<std::string> read_search(const http::Request& req,
                                       std::vector<FieldError>& problems) {
  auto s = http::query_param(req.query, "search");
  if (!s || s->empty()) return std::nullopt;
  const auto len = http::utf8_length(*s);
  if (!len || *len > domain::kSearchMax || s->find('\0') != std::string::npos) {
    problems.push_back(
        {"search", "Must be text of at most " + std::to_string(domain::kSearchMax) + " characters",
         "value_error.search", std::nullopt});
    return std::nullopt;
  }
  return s;
}

}  // namespace fields

}  // namespace evald::api
