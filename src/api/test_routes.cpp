#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <stdexcept>
#include <thread>

#include "api/routes.hpp"
#include "http/query.hpp"

namespace evald::api {
namespace {

namespace asio = boost::asio;
constexpr unsigned kMaxSleepMs = 60'000;

unsigned sleep_ms(const http::Request& req) {
  const auto v = http::query_param(req.query, "ms").value_or("0");
  unsigned ms = 0;
  std::from_chars(v.data(), v.data() + v.size(), ms);
  return std::min(ms, kMaxSleepMs);
}

http::RouteSpec test_route(std::string method, std::string path, http::Handler h) {
  http::RouteSpec r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.summary = "test only";
  r.tag = "Test";
  r.is_public = true;
  r.hidden = true;
  r.handler = std::move(h);
  return r;
}

}  // namespace

std::vector<http::RouteSpec> test_routes(AppContext& app) {
  std::vector<http::RouteSpec> routes;
  routes.push_back(
      test_route("GET", "/_test/throw",
                 [](http::Request&, http::RequestContext&) -> asio::awaitable<http::Response> {
                   throw std::runtime_error("deliberate failure for tests");
                   co_return http::Response{};
                 }));
  // Waits on a timer: an in-flight request that occupies no thread.
  routes.push_back(test_route(
      "GET", "/_test/sleep",
      [](http::Request& req, http::RequestContext&) -> asio::awaitable<http::Response> {
        const unsigned ms = sleep_ms(req);
        asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
        co_await timer.async_wait(asio::use_awaitable);
        co_return http::Response::json(200, "{\"slept_ms\":" + std::to_string(ms) + "}");
      }));
  // Blocks a worker thread, never the I/O thread.
  routes.push_back(test_route(
      "GET", "/_test/blocking",
      [&app](http::Request& req, http::RequestContext&) -> asio::awaitable<http::Response> {
        const unsigned ms = sleep_ms(req);
        co_await app.workers->run([ms] {
          std::this_thread::sleep_for(std::chrono::milliseconds(ms));
          return 0;
        });
        co_return http::Response::json(200, "{\"blocked_ms\":" + std::to_string(ms) + "}");
      }));
  routes.push_back(
      test_route("POST", "/_test/echo",
                 [](http::Request& req, http::RequestContext&) -> asio::awaitable<http::Response> {
                   boost::json::object o;
                   o["bytes"] = req.body.size();
                   o["method"] = req.method;
                   co_return http::Response::json(200, boost::json::serialize(o));
                 }));
  return routes;
}

}  // namespace evald::api
