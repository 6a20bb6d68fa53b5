#include <sodium.h>

#include "auth/service.hpp"
#include "http/route.hpp"
#include "middleware/middleware.hpp"
#include "ratelimit/client_ip.hpp"
#include "ratelimit/limiter.hpp"

namespace evald::middleware {
namespace {

// ADMIN_ALLOWED_CIDRS: admin and monitoring routes answer only clients inside it, whatever
// their token. The client address is the one the rate limiter found (trusted proxies included).
class AdminNetwork final : public http::Middleware {
 public:
  AdminNetwork(ratelimit::TrustedProxies allowed, auth::AuthService& auth, net::WorkerPool& workers,
               ratelimit::Limiter& limiter)
      : allowed_(std::move(allowed)), auth_(auth), workers_(workers), limiter_(limiter) {}
  std::string_view name() const override { return "admin_network"; }

  boost::asio::awaitable<http::Response> handle(http::Request& req, http::RequestContext& ctx,
                                                http::Next next) override {
    if (!ctx.route || !ctx.route->admin_network || allowed_.contains(ctx.client_ip)) {
      co_return co_await next(req, ctx);
    }
    // A security event each, but at most one a minute per address: a flood from outside must
    // not become a flood of writes.
    if (limiter_.should_report("admin_network|" + ctx.client_ip)) {
      auth::ClientInfo client = auth::client_info(req, ctx);
      std::string details =
          req.method + " " + ctx.route->path + " from outside ADMIN_ALLOWED_CIDRS";
      workers_.post([&auth = auth_, client = std::move(client), details = std::move(details)] {
        (void)auth.record("authz_admin_network_refused", nullptr, "", client, details);
      });
    }
    co_return http::Response::from_error(
        ApiError{ErrorCode::kSecurityViolation,
                 "This endpoint is not available from your network",
                 {},
                 0,
                 {}});
  }

 private:
  ratelimit::TrustedProxies allowed_;
  auth::AuthService& auth_;
  net::WorkerPool& workers_;
  ratelimit::Limiter& limiter_;
};

}  // namespace

std::unique_ptr<http::Middleware> make_admin_network(const Settings& settings,
                                                     auth::AuthService& auth,
                                                     net::WorkerPool& workers,
                                                     ratelimit::Limiter& limiter) {
  if (settings.monitoring.admin_allowed_cidrs.empty()) return nullptr;
  return std::make_unique<AdminNetwork>(
      ratelimit::TrustedProxies(settings.monitoring.admin_allowed_cidrs), auth, workers, limiter);
}

}  // namespace evald::middleware
