#include "http/router.hpp"

#include <gtest/gtest.h>

#include "http/query.hpp"

namespace evald::http {
namespace {

RouteSpec route(std::string method, std::string path) {
  RouteSpec r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

Router make_router() {
  std::vector<RouteSpec> routes;
  routes.push_back(route("GET", "/ping"));
  routes.push_back(route("GET", "/health/"));
  routes.push_back(route("GET", "/health/live"));
  routes.push_back(route("GET", "/auth/sessions"));
  routes.push_back(route("DELETE", "/auth/sessions"));
  routes.push_back(route("DELETE", "/auth/sessions/{session_id}"));
  routes.push_back(route("GET", "/users/me"));
  routes.push_back(route("GET", "/users/{id}/sessions"));
  routes.push_back(route("POST", "/items/{id}"));
  return Router(std::move(routes));
}

TEST(Router, MatchesStaticPaths) {
  const auto r = make_router();
  auto m = r.match("GET", "/ping");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->path, "/ping");
  EXPECT_TRUE(m.params.empty());
}

TEST(Router, TrailingSlashIsADifferentPath) {
  const auto r = make_router();
  EXPECT_NE(r.match("GET", "/health/").route, nullptr);
  auto m = r.match("GET", "/health");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_TRUE(m.allow.empty());
  EXPECT_EQ(r.match("GET", "/ping/").route, nullptr);
}

TEST(Router, ExtractsAndDecodesParameters) {
  const auto r = make_router();
  auto m = r.match("DELETE", "/auth/sessions/abc%20def");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->path, "/auth/sessions/{session_id}");
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_EQ(m.params[0].first, "session_id");
  EXPECT_EQ(m.params[0].second, "abc def");
}

TEST(Router, EmptySegmentNeverMatchesAParameter) {
  const auto r = make_router();
  auto m = r.match("DELETE", "/auth/sessions/");
  EXPECT_EQ(m.route, nullptr);
}

TEST(Router, MalformedEscapeIsNotFound) {
  const auto r = make_router();
  EXPECT_EQ(r.match("DELETE", "/auth/sessions/%zz").route, nullptr);
  EXPECT_EQ(r.match("DELETE", "/auth/sessions/%4").route, nullptr);
  EXPECT_EQ(r.match("DELETE", "/auth/sessions/%00").route, nullptr);
}

TEST(Router, StaticWinsButBacktracksToParameter) {
  const auto r = make_router();
  auto me = r.match("GET", "/users/me");
  ASSERT_NE(me.route, nullptr);
  EXPECT_EQ(me.route->path, "/users/me");
  // "me" matches the static child first, which has no "sessions": backtrack to {id}.
  auto s = r.match("GET", "/users/me/sessions");
  ASSERT_NE(s.route, nullptr);
  EXPECT_EQ(s.route->path, "/users/{id}/sessions");
  EXPECT_EQ(s.params.at(0).second, "me");
}

TEST(Router, UnknownPathIsNotFoundWithoutAllow) {
  const auto r = make_router();
  auto m = r.match("GET", "/nope");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_TRUE(m.allow.empty());
  EXPECT_EQ(r.match("GET", "").route, nullptr);
  EXPECT_EQ(r.match("GET", "ping").route, nullptr);
}

TEST(Router, WrongMethodGivesAllow) {
  const auto r = make_router();
  auto m = r.match("POST", "/auth/sessions");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.allow, "GET, HEAD, DELETE");
  EXPECT_TRUE(m.params.empty());
  auto p = r.match("GET", "/items/7");
  EXPECT_EQ(p.route, nullptr);
  EXPECT_EQ(p.allow, "POST");
}

TEST(Router, HeadIsServedByGet) {
  const auto r = make_router();
  auto m = r.match("HEAD", "/health/live");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->method, "GET");
  auto n = r.match("HEAD", "/items/1");
  EXPECT_EQ(n.route, nullptr);
  EXPECT_EQ(n.allow, "POST");
}

TEST(Router, RejectsDuplicatesAndBadTemplates) {
  std::vector<RouteSpec> dup{route("GET", "/a"), route("GET", "/a")};
  EXPECT_THROW(Router{std::move(dup)}, std::invalid_argument);
  std::vector<RouteSpec> names{route("GET", "/a/{x}"), route("POST", "/a/{y}")};
  EXPECT_THROW(Router{std::move(names)}, std::invalid_argument);
  std::vector<RouteSpec> bad{route("GET", "/a/{x")};
  EXPECT_THROW(Router{std::move(bad)}, std::invalid_argument);
  std::vector<RouteSpec> rel{route("GET", "a")};
  EXPECT_THROW(Router{std::move(rel)}, std::invalid_argument);
}

TEST(PercentDecode, DecodesAndRejects) {
  std::string out;
  EXPECT_TRUE(percent_decode("a%2Fb%41", out));
  EXPECT_EQ(out, "a/bA");
  EXPECT_FALSE(percent_decode("%", out));
  EXPECT_FALSE(percent_decode("%a", out));
  EXPECT_FALSE(percent_decode("%gg", out));
  EXPECT_FALSE(percent_decode("%00", out));
  // An id or a login is UTF-8 text: other bytes name nothing (PostgreSQL would refuse them).
  EXPECT_TRUE(percent_decode("caf%C3%A9", out));
  EXPECT_EQ(out, "caf\xc3\xa9");
  EXPECT_FALSE(percent_decode("%ff", out));
  EXPECT_FALSE(percent_decode("a%c3%28", out));
  EXPECT_FALSE(percent_decode("raw\xfe", out));
}

TEST(QueryParam, DecodesLeniently) {
  EXPECT_EQ(query_param("limit=1&x=a|b", "limit"), "1");
  EXPECT_EQ(query_param("x={}&search=caf\xc3\xa9", "search"), "caf\xc3\xa9");
  EXPECT_EQ(query_param("search=a+b%2Bc", "search"), "a b+c");
  EXPECT_EQ(query_param("search=100%&limit=2", "search"), "100%");
  EXPECT_EQ(query_param("search=%zz", "search"), "%zz");
  EXPECT_EQ(query_param("&&a&b=", "a"), "");
  EXPECT_EQ(query_param("a=1&a=2", "a"), "1");
  EXPECT_EQ(query_param("ab=1", "a"), std::nullopt);
  EXPECT_EQ(query_param("", "a"), std::nullopt);
}

TEST(QueryParam, CheckRefusesWhatIsNotText) {
  EXPECT_FALSE(check_query("limit=1&search=caf%C3%A9&x=a|b"));
  const auto bad = check_query("limit=%ff&search=a%00b&ok=1&k%fe=v");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status(), 400u);
  ASSERT_EQ(bad->details.size(), 3u);
  EXPECT_EQ(bad->details[0].field, "limit");
  EXPECT_EQ(bad->details[1].field, "search");
  EXPECT_EQ(bad->details[2].field, "k\xef\xbf\xbd");
  EXPECT_EQ(bad->details[0].code, "value_error.utf8");
}

}  // namespace
}  // namespace evald::http
