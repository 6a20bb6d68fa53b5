#include <chrono>

#include "core/time_format.hpp"
#include "http/route.hpp"
#include "log/log.hpp"
#include "metrics/http_metrics.hpp"
#include "metrics/traffic_history.hpp"
#include "middleware/middleware.hpp"
#include "monitoring/error_log.hpp"

namespace evald::middleware {
namespace {

class AccessLog final : public http::Middleware {
 public:
  AccessLog(metrics::HttpMetrics& metrics, monitoring::ErrorLogWriter* errors, const Clock& clock,
            metrics::TrafficHistory* history)
      : metrics_(metrics), errors_(errors), clock_(clock), history_(history) {}
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
    if (history_) {
      history_->record_request(std::chrono::microseconds(micros),
                               res.error ? std::optional(res.error->code) : std::nullopt);
    }
    if (errors_ && res.error && monitoring::logged_status(res.status)) {
      const auto& info = error_info(res.error->code);
      monitoring::ErrorEntry e;
      e.error_code = info.code;
      e.category = info.category;
      e.severity = info.severity;
      e.status = res.status;
      e.request_id = ctx.request_id;
      // Signed in, or refused before authentication (rate limiting) with a validly signed token.
      if (ctx.principal) {
        e.user_id = ctx.principal->user_id;
      } else if (ctx.token) {
        e.user_id = ctx.token->user_id;
      }
      e.method = req.method.substr(0, 16);
      e.route = ctx.route ? ctx.route->path : "unmatched";
      e.client_ip = ctx.client_ip;
      e.user_agent = req.headers.get("User-Agent").value_or("").substr(0, 256);
      e.created_at = format_iso8601(clock_.now(), true);
      errors_->record(std::move(e));
    }
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
  monitoring::ErrorLogWriter* errors_;
  const Clock& clock_;
  metrics::TrafficHistory* history_;
};

}  // namespace

std::unique_ptr<http::Middleware> make_access_log(metrics::HttpMetrics& metrics,
                                                  monitoring::ErrorLogWriter* errors,
                                                  const Clock& clock,
                                                  metrics::TrafficHistory* history) {
  return std::make_unique<AccessLog>(metrics, errors, clock, history);
}

}  // namespace evald::middleware
