#include "http/pipeline.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <stdexcept>

#include "http/dispatcher.hpp"
#include "metrics/http_metrics.hpp"
#include "middleware/middleware.hpp"

namespace evald {
namespace {

// A JSON string value as std::string, for readable assertions.
inline std::string S(const boost::json::value& v) { return std::string(v.as_string()); }

namespace asio = boost::asio;
using http::Request;
using http::RequestContext;
using http::Response;

// Builds a dispatcher over the real middleware chain and one route table.
struct Fixture {
  ManualClock clock;
  metrics::HttpMetrics metrics;
  std::shared_ptr<http::Dispatcher> dispatcher;
  std::vector<std::string>* order;

  explicit Fixture(std::vector<http::RouteSpec> routes, bool development = false) {
    std::vector<std::unique_ptr<http::Middleware>> chain;
    chain.push_back(middleware::make_request_id(clock, development));
    chain.push_back(middleware::make_access_log(metrics, nullptr, clock));
    chain.push_back(middleware::make_cors({"http://a.example"}));
    chain.push_back(middleware::make_error_barrier());
    auto pipeline = std::make_shared<const http::Pipeline>(std::move(chain),
                                                           std::make_unique<http::RouteTerminal>());
    dispatcher = std::make_shared<http::Dispatcher>(
        std::make_shared<const http::Router>(std::move(routes)), pipeline);
  }

  Response run(Request req) {
    asio::io_context ioc;
    auto fut = asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<Response> {
          RequestContext ctx;
          co_return co_await dispatcher->dispatch(req, ctx);
        },
        asio::use_future);
    ioc.run();
    return fut.get();
  }
};

http::RouteSpec route(std::string method, std::string path, http::Handler h) {
  http::RouteSpec r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.handler = std::move(h);
  return r;
}

Request get(std::string path) {
  Request r;
  r.method = "GET";
  r.path = path;
  r.target = path;
  return r;
}

std::vector<http::RouteSpec> routes() {
  std::vector<http::RouteSpec> v;
  v.push_back(route("GET", "/ok", [](Request&, RequestContext& ctx) -> asio::awaitable<Response> {
    co_return Response::json(200, "{\"id\":\"" + ctx.request_id + "\"}");
  }));
  v.push_back(route("GET", "/throw", [](Request&, RequestContext&) -> asio::awaitable<Response> {
    throw std::logic_error("secret internals");
    co_return Response{};
  }));
  v.push_back(
      route("GET", "/items/{id}", [](Request&, RequestContext& ctx) -> asio::awaitable<Response> {
        co_return Response::json(200, std::string(ctx.param("id")));
      }));
  return v;
}

TEST(Headers, KeepOrderCaseInsensitiveLookupSetEraseAndCopies) {
  http::Headers h;
  h.add("Content-Type", "application/json");
  h.add("Set-Cookie", "a=1");
  h.add("Set-Cookie", "b=2");
  const std::string long_value(3000, 'v');  // beyond the first buffer: it grows
  h.add("X-Long", long_value);
  EXPECT_EQ(h.get("content-type"), "application/json");
  EXPECT_EQ(h.get("SET-COOKIE"), "a=1");  // the first value
  EXPECT_EQ(h.get("x-long"), long_value);
  EXPECT_FALSE(h.get("Missing").has_value());
  h.set("set-cookie", "c=3");  // replaces both
  h.erase("Content-Type");
  std::vector<std::pair<std::string, std::string>> seen;
  for (const auto& [k, v] : h.fields()) seen.emplace_back(k, v);
  ASSERT_EQ(h.fields().size(), 2u);
  EXPECT_EQ(seen[0], (std::pair<std::string, std::string>{"X-Long", long_value}));
  EXPECT_EQ(seen[1], (std::pair<std::string, std::string>{"set-cookie", "c=3"}));
  // A value read from the same headers survives the buffer growing under it.
  for (int i = 0; i < 50; ++i) h.add("X-Copy-" + std::to_string(i), *h.get("X-Long"));
  EXPECT_EQ(h.get("X-Copy-49"), long_value);
  // Copies and moves keep their text.
  http::Headers copy = h;
  http::Headers moved = std::move(h);
  EXPECT_EQ(copy.get("set-cookie"), "c=3");
  EXPECT_EQ(moved.get("X-Copy-0"), long_value);
  EXPECT_EQ(copy.fields().size(), 52u);
}

TEST(Pipeline, GeneratesARequestIdAndEchoesIt) {
  Fixture f(routes());
  auto res = f.run(get("/ok"));
  EXPECT_EQ(res.status, 200u);
  auto id = res.headers.get("X-Request-ID");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->size(), 32u);
  EXPECT_EQ(res.body, "{\"id\":\"" + std::string(*id) + "\"}");
}

TEST(Pipeline, KeepsASaneRequestIdAndReplacesAnInsaneOne) {
  Fixture f(routes());
  auto req = get("/ok");
  req.headers.set("X-Request-ID", "client-id-1");
  EXPECT_EQ(*f.run(req).headers.get("X-Request-ID"), "client-id-1");
  auto bad = get("/ok");
  bad.headers.set("X-Request-ID", "evil\r\nSet-Cookie: x");
  auto res = f.run(bad);
  EXPECT_NE(*res.headers.get("X-Request-ID"), "evil\r\nSet-Cookie: x");
  EXPECT_EQ(res.headers.get("X-Request-ID")->size(), 32u);
}

TEST(Pipeline, NotFoundAndMethodNotAllowedUseTheErrorBody) {
  Fixture f(routes());
  auto nf = f.run(get("/missing"));
  EXPECT_EQ(nf.status, 404u);
  auto body = boost::json::parse(nf.body).as_object();
  EXPECT_EQ(S(body.at("error_code")), "NOT_FOUND");
  EXPECT_EQ(S(body.at("request_id")), *nf.headers.get("X-Request-ID"));

  auto req = get("/ok");
  req.method = "DELETE";
  auto na = f.run(req);
  EXPECT_EQ(na.status, 405u);
  EXPECT_EQ(*na.headers.get("Allow"), "GET, HEAD");
  EXPECT_EQ(S(boost::json::parse(na.body).at("error_code")), "METHOD_NOT_ALLOWED");
}

TEST(Pipeline, ErrorBarrierTurnsExceptionsInto500WithoutInternals) {
  Fixture f(routes());
  auto res = f.run(get("/throw"));
  EXPECT_EQ(res.status, 500u);
  auto body = boost::json::parse(res.body).as_object();
  EXPECT_EQ(S(body.at("error_code")), "INTERNAL_SERVER_ERROR");
  EXPECT_EQ(res.body.find("secret internals"), std::string::npos);
  EXPECT_TRUE(body.contains("support_reference"));

  Fixture dev(routes(), /*development=*/true);
  auto dres = dev.run(get("/throw"));
  EXPECT_NE(dres.body.find("secret internals"), std::string::npos);
}

TEST(Pipeline, PathParametersReachTheHandler) {
  Fixture f(routes());
  EXPECT_EQ(f.run(get("/items/a%2Fb")).body, "a/b");
}

TEST(Cors, AllowedOriginGetsHeadersOthersDoNot) {
  Fixture f(routes());
  auto ok = get("/ok");
  ok.headers.set("Origin", "http://a.example");
  auto res = f.run(ok);
  EXPECT_EQ(*res.headers.get("Access-Control-Allow-Origin"), "http://a.example");
  EXPECT_EQ(*res.headers.get("Access-Control-Allow-Credentials"), "true");
  EXPECT_EQ(*res.headers.get("Vary"), "Origin");

  auto other = get("/ok");
  other.headers.set("Origin", "http://evil.example");
  auto r2 = f.run(other);
  EXPECT_EQ(r2.status, 200u);
  EXPECT_FALSE(r2.headers.has("Access-Control-Allow-Origin"));
}

TEST(Cors, PreflightIsAnsweredForKnownPathsOnly) {
  Fixture f(routes());
  auto pre = get("/ok");
  pre.method = "OPTIONS";
  pre.headers.set("Origin", "http://a.example");
  pre.headers.set("Access-Control-Request-Method", "GET");
  auto res = f.run(pre);
  EXPECT_EQ(res.status, 204u);
  EXPECT_EQ(*res.headers.get("Access-Control-Allow-Methods"), "GET, HEAD");
  EXPECT_TRUE(res.headers.has("Access-Control-Max-Age"));

  pre.headers.set("Origin", "http://evil.example");
  auto denied = f.run(pre);
  EXPECT_EQ(denied.status, 403u);
  EXPECT_EQ(S(boost::json::parse(denied.body).at("error_code")), "SECURITY_VIOLATION");
  EXPECT_FALSE(denied.headers.has("Access-Control-Allow-Origin"));

  auto unknown = pre;
  unknown.path = "/nope";
  unknown.headers.set("Origin", "http://a.example");
  EXPECT_EQ(f.run(unknown).status, 404u);
}

}  // namespace
}  // namespace evald
