#include <sodium.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>

#include "auth/service.hpp"
#include "http/route.hpp"
#include "middleware/middleware.hpp"
#include "net/worker_pool.hpp"
#include "ratelimit/client_ip.hpp"
#include "ratelimit/limiter.hpp"

namespace evald::middleware {
namespace {

std::int64_t seconds_up(std::int64_t ms) { return (ms + 999) / 1000; }

// The headers are new to the response (nothing before this layer sets them): appended, not
// replaced. This runs on every limited request: what depends on the rule alone was rendered
// when the rules were loaded, and the two numbers that change are written once each.
void set_headers(http::Response& res, const ratelimit::RuleOutcome& o,
                 const ratelimit::RuleSet& rules) {
  const auto& t = rules.header_texts(o.rule);
  const auto remaining = static_cast<long long>(std::floor(std::max(0.0, o.verdict.remaining)));
  const auto reset = seconds_up(std::max(o.verdict.reset_ms, o.blocked ? o.blocked_ms : 0));
  char remaining_digits[24];
  char reset_digits[24];
  const std::string_view remaining_text(
      remaining_digits,
      std::to_chars(std::begin(remaining_digits), std::end(remaining_digits), remaining).ptr);
  const std::string_view reset_text(
      reset_digits, std::to_chars(std::begin(reset_digits), std::end(reset_digits), reset).ptr);
  res.headers.reserve(res.headers.fields().size() + 6);
  res.headers.add("X-RateLimit-Limit", t.limit);
  res.headers.add("X-RateLimit-Remaining", remaining_text);
  res.headers.add("X-RateLimit-Reset", reset_text);
  res.headers.add("X-RateLimit-Window", t.window);
  // draft-ietf-httpapi-ratelimit-headers-07
  res.headers.add("RateLimit-Policy", t.policy);
  // "limit=<n>, remaining=<n>, reset=<n>" in a buffer on the stack: three 64-bit integers,
  // 86 characters at most.
  char value[128];
  char* out = value;
  for (std::string_view p :
       {std::string_view("limit="), std::string_view(t.limit), std::string_view(", remaining="),
        remaining_text, std::string_view(", reset="), reset_text}) {
    out = std::copy(p.begin(), p.end(), out);
  }
  res.headers.add("RateLimit", std::string_view(value, static_cast<std::size_t>(out - value)));
}

class RateLimit final : public http::Middleware {
 public:
  RateLimit(ratelimit::Limiter& limiter, ratelimit::TrustedProxies proxies, auth::AuthService& auth,
            net::WorkerPool& workers, bool enabled, std::string bypass_token)
      : limiter_(limiter),
        proxies_(std::move(proxies)),
        auth_(auth),
        workers_(workers),
        enabled_(enabled),
        bypass_(std::move(bypass_token)) {}
  std::string_view name() const override { return "rate_limit"; }

  boost::asio::awaitable<http::Response> handle(http::Request& req, http::RequestContext& ctx,
                                                http::Next next) override {
    ctx.client_ip =
        proxies_.client_ip(ctx.peer_ip, req.headers.get("X-Forwarded-For").value_or(""));
    if (!enabled_ || !ctx.route || ctx.route->rate_category == http::RateCategory::kExempt) {
      co_return co_await next(req, ctx);
    }
    if (!bypass_.empty()) {
      const auto given = req.headers.get("X-RateLimit-Bypass");
      if (given && given->size() == bypass_.size() &&
          sodium_memcmp(given->data(), bypass_.data(), bypass_.size()) == 0) {
        limiter_.count_bypass();
        co_return co_await next(req, ctx);
      }
    }
    ratelimit::RequestInfo info;  // views into ctx and the route table, which outlive it
    info.client_ip = ctx.client_ip;
    info.category = http::to_string(ctx.route->rate_category);
    info.route = ctx.route->path;
    // Per-user buckets key on the user of a validly signed token (the session is checked
    // later, by authentication; a signature is enough to know whose bucket it is).
    if (auto auth = req.headers.get("Authorization");
        auth && auth->size() > 7 && http::iequals(auth->substr(0, 7), "bearer ")) {
      if (auto claims = auth_.verify_token(auth->substr(7))) {
        ctx.token = http::VerifiedToken{std::move(claims->user_id), std::move(claims->role),
                                        std::move(claims->session_id)};
        info.user_id = ctx.token->user_id;
        info.role = ctx.token->role;
      }
    }
    // (Not a conditional expression: GCC 12 miscompiles co_await inside one.)
    ratelimit::Decision d;
    if (limiter_.redis_active()) {
      d = co_await limiter_.check(info);
    } else {
      limiter_.check_local(info, d);
    }
    if (!d.allowed) {
      const auto& o = d.outcomes[static_cast<std::size_t>(d.violated)];
      const auto retry = std::max<std::int64_t>(1, seconds_up(o.verdict.retry_ms));
      auto res = http::Response::from_error(ApiError{
          ErrorCode::kRateLimitExceeded,
          "Too many requests; retry after " + std::to_string(retry) + " seconds",
          {{"rate_limit", o.rule->name + (o.blocked ? " (penalty)" : ""),
            "rate_limit." + std::string(ratelimit::to_string(o.rule->scope)), std::nullopt}},
          0,
          {}});
      res.headers.set("Retry-After", std::to_string(retry));
      set_headers(res, o, *d.rules);
      if (limiter_.should_report(d.key(static_cast<std::size_t>(d.violated)))) {
        report(req, ctx, info, o);
      }
      co_return res;
    }
    http::Response res = co_await next(req, ctx);
    if (d.tightest >= 0) {
      set_headers(res, d.outcomes[static_cast<std::size_t>(d.tightest)], *d.rules);
    }
    co_return res;
  }

 private:
  // The refusal as a security event, written off the request path (the refusal does not wait).
  void report(const http::Request& req, const http::RequestContext& ctx,
              const ratelimit::RequestInfo& info, const ratelimit::RuleOutcome& o) {
    auth::ClientInfo client = auth::client_info(req, ctx);
    http::Principal who;
    who.user_id = info.user_id;
    std::string details =
        o.rule->name + " on " + std::string(info.route) + (o.blocked ? " (penalty)" : "");
    workers_.post([&auth = auth_, client = std::move(client), who = std::move(who),
                   details = std::move(details)] {
      (void)auth.record("excess_rate_limit_exceeded", who.user_id.empty() ? nullptr : &who, "",
                        client, details);
    });
  }

  ratelimit::Limiter& limiter_;
  ratelimit::TrustedProxies proxies_;
  auth::AuthService& auth_;
  net::WorkerPool& workers_;
  bool enabled_;
  std::string bypass_;
};

}  // namespace

std::unique_ptr<http::Middleware> make_rate_limit(ratelimit::Limiter& limiter,
                                                  const Settings& settings, auth::AuthService& auth,
                                                  net::WorkerPool& workers) {
  const bool bypass_allowed = settings.environment != Environment::kProduction;
  return std::make_unique<RateLimit>(
      limiter, ratelimit::TrustedProxies(settings.server.trusted_proxies), auth, workers,
      settings.ratelimit.enabled, bypass_allowed ? settings.ratelimit.bypass_token : "");
}

}  // namespace evald::middleware
