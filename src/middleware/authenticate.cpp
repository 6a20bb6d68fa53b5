#include <sodium.h>

#include "auth/service.hpp"
#include "http/route.hpp"
#include "middleware/middleware.hpp"

namespace evald::middleware {
namespace {

http::Response unauthorized(std::string_view why) {
  auto res = http::Response::from_error(
      ApiError::auth_failed(why.empty() ? "Authentication required" : "Invalid or expired token"));
  res.headers.set("WWW-Authenticate", why.empty() ? "Bearer" : "Bearer error=\"invalid_token\"");
  return res;
}

class Authenticate final : public http::Middleware {
 public:
  Authenticate(auth::AuthService& auth, net::WorkerPool& workers, std::string metrics_token)
      : auth_(auth), workers_(workers), metrics_token_(std::move(metrics_token)) {}
  std::string_view name() const override { return "authenticate"; }

  boost::asio::awaitable<http::Response> handle(http::Request& req, http::RequestContext& ctx,
                                                http::Next next) override {
    if (!ctx.route || ctx.route->is_public) co_return co_await next(req, ctx);

    if (!ctx.token) {
      const auto header = req.headers.get("Authorization");
      constexpr std::string_view kScheme = "bearer ";
      if (!header || header->size() <= kScheme.size() ||
          !http::iequals(header->substr(0, kScheme.size()), kScheme)) {
        co_return unauthorized("");
      }
      const auto bearer = header->substr(kScheme.size());
      if (ctx.route->metrics_token && !metrics_token_.empty() &&
          bearer.size() == metrics_token_.size() &&
          sodium_memcmp(bearer.data(), metrics_token_.data(), bearer.size()) == 0) {
        ctx.principal = http::Principal{"", "metrics", ""};
        ctx.authenticated = true;
        co_return co_await next(req, ctx);
      }
      auto verified = auth_.verify_token(bearer);
      if (!verified) co_return unauthorized("invalid");
      ctx.token = http::VerifiedToken{verified->user_id, verified->role, verified->session_id};
    }
    const http::VerifiedToken* claims = &*ctx.token;

    const std::string session = auth::SessionManager::public_id(claims->raw_session_id);
    auto valid = auth_.sessions().cached(session, claims->user_id);
    if (!valid) {
      auto checked = co_await workers_.run(
          [&] { return auth_.sessions().validate(auth_.db(), session, claims->user_id); });
      if (!checked) co_return http::Response::from_error(std::move(checked).error());
      valid = *checked;
    }
    if (!*valid) co_return unauthorized("revoked");

    ctx.principal = http::Principal{claims->user_id, claims->role, session};
    ctx.authenticated = true;
    const auto& roles = ctx.route->roles;
    if (!roles.empty() && std::none_of(roles.begin(), roles.end(), [&](http::Role r) {
          return http::to_string(r) == claims->role;
        })) {
      const auth::ClientInfo client = auth::client_info(req, ctx);
      co_await workers_.run([&] {
        return auth_.record("authz_fail", &*ctx.principal, "", client,
                            req.method + " " + ctx.route->path);
      });
      co_return http::Response::from_error(
          ApiError::forbidden("Your role may not use this endpoint"));
    }
    co_return co_await next(req, ctx);
  }

 private:
  auth::AuthService& auth_;
  net::WorkerPool& workers_;
  std::string metrics_token_;
};

}  // namespace

std::unique_ptr<http::Middleware> make_authenticate(auth::AuthService& auth,
                                                    net::WorkerPool& workers,
                                                    std::string metrics_token) {
  return std::make_unique<Authenticate>(auth, workers, std::move(metrics_token));
}

}  // namespace evald::middleware
