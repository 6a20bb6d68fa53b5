// The access-log middleware feeds the traffic history. Apart from traffic_history_test.cpp, which
// the ThreadSanitizer build (concurrency_tests) compiles without the http and middleware libraries.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "http/dispatcher.hpp"
#include "metrics/http_metrics.hpp"
#include "metrics/traffic_history.hpp"
#include "middleware/middleware.hpp"

namespace evald::metrics {
namespace {

std::uint64_t code(const TrafficStep& s, ErrorCode c) {
  return s.errors[static_cast<std::size_t>(c)];
}

// The access-log middleware feeds the history with each finished request.
TEST(TrafficHistory, TheAccessLogFeedsIt) {
  namespace asio = boost::asio;
  ManualClock clock;
  HttpMetrics http;
  TrafficHistory history(clock);
  std::vector<std::unique_ptr<http::Middleware>> chain;
  chain.push_back(middleware::make_access_log(http, nullptr, clock, &history));
  auto pipeline = std::make_shared<const http::Pipeline>(std::move(chain),
                                                         std::make_unique<http::RouteTerminal>());
  std::vector<http::RouteSpec> routes;
  http::RouteSpec ok;
  ok.method = "GET";
  ok.path = "/ok";
  ok.handler = [](http::Request&, http::RequestContext&) -> asio::awaitable<http::Response> {
    co_return http::Response::json(200, "{}");
  };
  routes.push_back(ok);
  http::RouteSpec refused = ok;
  refused.path = "/refused";
  refused.handler = [](http::Request&, http::RequestContext&) -> asio::awaitable<http::Response> {
    co_return http::Response::from_error(
        ApiError{ErrorCode::kRateLimitExceeded, "slow down", {}, 0, {}});
  };
  routes.push_back(refused);
  http::Dispatcher dispatcher(std::make_shared<const http::Router>(std::move(routes)), pipeline);
  auto run = [&](std::string path) {
    http::Request req;
    req.method = "GET";
    req.path = path;
    req.target = path;
    asio::io_context ioc;
    auto fut = asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<http::Response> {
          http::RequestContext ctx;
          ctx.start = std::chrono::steady_clock::now();
          co_return co_await dispatcher.dispatch(req, ctx);
        },
        asio::use_future);
    ioc.run();
    return fut.get().status;
  };
  EXPECT_EQ(run("/ok"), 200u);
  EXPECT_EQ(run("/ok"), 200u);
  EXPECT_EQ(run("/missing"), 404u);
  EXPECT_EQ(run("/refused"), 429u);
  const auto steps = history.steps();
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].requests, 4u);
  EXPECT_EQ(steps[0].measured, 4u);
  EXPECT_EQ(code(steps[0], ErrorCode::kNotFound), 1u);
  EXPECT_EQ(steps[0].rate_limit_refusals, 1u);
  EXPECT_TRUE(steps[0].p50_ms);
}

}  // namespace
}  // namespace evald::metrics
