#include <algorithm>

#include "http/route.hpp"
#include "middleware/middleware.hpp"

namespace evald::middleware {
namespace {

constexpr std::string_view kAllowedRequestHeaders =
    "Authorization, Content-Type, X-Request-ID, X-RateLimit-Bypass";
constexpr std::string_view kExposedHeaders =
    "X-Request-ID, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, "
    "X-RateLimit-Window, Retry-After, RateLimit, RateLimit-Policy";
constexpr std::string_view kPreflightMaxAgeSeconds = "600";

class Cors final : public http::Middleware {
 public:
  explicit Cors(std::vector<std::string> origins) : origins_(std::move(origins)) {}
  std::string_view name() const override { return "cors"; }

  boost::asio::awaitable<http::Response> handle(http::Request& req, http::RequestContext& ctx,
                                                http::Next next) override {
    const auto origin = req.headers.get("Origin");
    if (!origin) co_return co_await next(req, ctx);
    const bool allowed = std::find(origins_.begin(), origins_.end(), *origin) != origins_.end();
    const bool known_path = ctx.route != nullptr || !ctx.allow.empty();
    const bool preflight =
        req.method == "OPTIONS" && req.headers.has("Access-Control-Request-Method");

    if (preflight && known_path) {
      if (!allowed) {
        auto res = http::Response::from_error(
            ApiError{ErrorCode::kSecurityViolation, "Origin not allowed", {}, 0, {}});
        res.headers.set("Vary", "Origin");
        co_return res;
      }
      http::Response res;
      res.status = 204;
      res.headers.set("Access-Control-Allow-Origin", *origin);
      res.headers.set("Access-Control-Allow-Credentials", "true");
      res.headers.set("Access-Control-Allow-Methods", ctx.route
                                                          ? std::string_view(ctx.route->method)
                                                          : std::string_view(ctx.allow));
      res.headers.set("Access-Control-Allow-Headers", kAllowedRequestHeaders);
      res.headers.set("Access-Control-Max-Age", kPreflightMaxAgeSeconds);
      res.headers.set("Vary", "Origin");
      co_return res;
    }

    http::Response res = co_await next(req, ctx);
    res.headers.add("Vary", "Origin");
    if (allowed) {
      res.headers.set("Access-Control-Allow-Origin", *origin);
      res.headers.set("Access-Control-Allow-Credentials", "true");
      res.headers.set("Access-Control-Expose-Headers", kExposedHeaders);
    }
    co_return res;
  }

 private:
  std::vector<std::string> origins_;
};

}  // namespace

std::unique_ptr<http::Middleware> make_cors(std::vector<std::string> allowed_origins) {
  return std::make_unique<Cors>(std::move(allowed_origins));
}

}  // namespace evald::middleware
