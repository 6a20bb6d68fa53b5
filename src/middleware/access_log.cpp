#include <chrono>

#include "http/route.hpp"
#include "log/log.hpp"
#include "metrics/http_metrics.hpp"
#include "middleware/middleware.hpp"

namespace evald::middleware {
namespace {

class AccessLog final : public http::Middleware {
 public:
  explicit AccessLog(metrics::HttpMetrics& metrics) : metrics_(metrics) {}
  std::string_view name() const override { return "access_log"; }

  boost::asio::awaitable<http::Response> handle(http::Request& req, http::RequestContext& ctx,
                                                http::Next next) override {
    metrics_.started();
    http::Response res = co_await next(req, ctx);
    metrics_.finished();
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - ctx.start)
                            .count();
    metrics_.observe(req.method, ctx.route ? &ctx.route->path : nullptr, res.status,
                     static_cast<double>(micros) / 1e6,
                     res.error ? std::optional(res.error->code) : std::nullopt);
    if (log::access_enabled()) {
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

 private:
  metrics::HttpMetrics& metrics_;
};

}  // namespace

std::unique_ptr<http::Middleware> make_access_log(metrics::HttpMetrics& metrics) {
  return std::make_unique<AccessLog>(metrics);
}

}  // namespace evald::middleware
