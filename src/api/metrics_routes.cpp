// GET /health/metrics: the Prometheus text exposition.

#include "api/routes.hpp"

namespace evald::api {

std::vector<http::RouteSpec> metrics_routes(AppContext& app) {
  http::RouteSpec r;
  r.method = "GET";
  r.path = "/health/metrics";
  r.summary = "Prometheus metrics";
  r.description =
      "The text exposition format: requests by route and status, latency histograms, requests "
      "in flight, errors by code and category, process figures, database statements and pool, "
      "query cache, rate-limit decisions and store, sign-in outcomes, mail outbox, build. An "
      "admin, or `Authorization: Bearer $METRICS_TOKEN` for Prometheus.";
  r.tag = "Monitoring";
  r.roles = {http::Role::kAdmin};
  r.metrics_token = true;
  r.rate_category = http::RateCategory::kExempt;
  r.admin_network = true;
  r.responses.push_back({200, "Metrics", "text/plain; version=0.0.4",
                         schema(R"({"type":"string"})"),
                         boost::json::value("http_requests_total{method=\"GET\",route=\"/ping\","
                                            "status=\"200\"} 12\n")});
  r.handler = [&app](http::Request&,
                     http::RequestContext&) -> boost::asio::awaitable<http::Response> {
    // Reads /proc and counts the outbox: off the I/O thread.
    auto text = co_await app.workers->run([&app] { return app.metrics->render(); });
    http::Response res;
    res.status = 200;
    res.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    res.body = std::move(text);
    co_return res;
  };
  return {std::move(r)};
}

}  // namespace evald::api
