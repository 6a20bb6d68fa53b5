#pragma once
/// The cross-cutting layers of the request pipeline. Each is small and stops the chain only by
/// returning a response; the order they run in is declared in app/pipeline_order.cpp.

#include <memory>
#include <string>
#include <vector>

#include "config/settings.hpp"
#include "core/clock.hpp"
#include "http/pipeline.hpp"
#include "net/worker_pool.hpp"

namespace evald::auth {
class AuthService;
}
namespace evald::metrics {
class HttpMetrics;
class TrafficHistory;
}  // namespace evald::metrics
namespace evald::monitoring {
class ErrorLogWriter;
}
namespace evald::ratelimit {
class Limiter;
}

namespace evald::middleware {

/// Accepts a sane X-Request-ID or makes one; echoes it; renders error bodies with it.
std::unique_ptr<http::Middleware> make_request_id(const Clock& clock, bool development);

/// One access-log line per request (method, path, route, status, error code, time, client),
/// the request metrics (counts, latency, in flight, errors by code), and the error log entry
/// of a 5xx, 401, 403, 423 or 429 (when `errors` is given), and the request in the last hour's
/// history of the status page (when `history` is given).
std::unique_ptr<http::Middleware> make_access_log(metrics::HttpMetrics& metrics,
                                                  monitoring::ErrorLogWriter* errors,
                                                  const Clock& clock,
                                                  metrics::TrafficHistory* history = nullptr);

/// Turns an escaped exception into 500 INTERNAL_SERVER_ERROR, logged with the request id.
std::unique_ptr<http::Middleware> make_error_barrier();

/// CORS for the configured origins: exact match, preflight answered, never `*`.
std::unique_ptr<http::Middleware> make_cors(std::vector<std::string> allowed_origins);

/// Token buckets per IP, user, endpoint and globally (the route's category); the client's
/// address behind trusted proxies; X-RateLimit-* and RateLimit headers; 429 with Retry-After.
std::unique_ptr<http::Middleware> make_rate_limit(ratelimit::Limiter& limiter,
                                                  const Settings& settings, auth::AuthService& auth,
                                                  net::WorkerPool& workers);

/// ADMIN_ALLOWED_CIDRS: routes marked `admin_network` answer 403 SECURITY_VIOLATION to clients
/// outside it (a security event each, throttled per address). Null when the setting is empty.
std::unique_ptr<http::Middleware> make_admin_network(const Settings& settings,
                                                     auth::AuthService& auth,
                                                     net::WorkerPool& workers,
                                                     ratelimit::Limiter& limiter);

/// Bearer access tokens and server-side sessions; the route's roles (401 / 403). Routes marked
/// `metrics_token` also accept `Bearer <metrics_token>` when it is set.
std::unique_ptr<http::Middleware> make_authenticate(auth::AuthService& auth,
                                                    net::WorkerPool& workers,
                                                    std::string metrics_token);

}  // namespace evald::middleware
