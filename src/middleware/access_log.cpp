#include <chrono>

#include "http/route.hpp"
#include "log/log.hpp"
#include "middleware/middleware.hpp"

namespace evald::middleware {
namespace {

class AccessLog final : public http::Middleware {
 public:
  AccessLog() = default;
  std::string_view name() const override { return "access_log"; }

  boost::asio::awaitable<http::Response> handle(http::Request& req, http::RequestContext& ctx,
                                                http::Next next) override {
    http::Response res = co_await next(req, ctx);
    if (log::access_enabled()) {
      const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - ctx.start)
                              .count();
      // The query string is left out: it may carry tokens.
      log::Line line("request");
      line.kv("request_id", ctx.request_id)
          .kv("method", req.method)
          .kv("path", req.path)
          .kv("route", ctx.route ? std::string_view(ctx.route->path) : std::string_view("-"))
          .kv("status", res.status)
          .kv("duration_ms", static_cast<double>(micros) / 1000.0)
          .kv("client_ip", ctx.client_ip);
      if (res.error) line.kv("error_code", error_info(res.error->code).code);
      log::access(line);
    }
    co_return res;
  }
};

}  // namespace

std::unique_ptr<http::Middleware> make_access_log() { return std::make_unique<AccessLog>(); }

}  // namespace evald::middleware
