#include <sodium.h>

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

// Appends the decimal digits of `v` (std::to_chars: no locale, no format string to parse).
void append_int(std::string& out, long long v) {
  char digits[24];
  const auto r = std::to_chars(std::begin(digits), std::end(digits), v);
  out.append(digits, r.ptr);
}

// The headers are new to the response (nothing before this layer sets them): appended, not
// replaced, and built in one reused buffer; this runs on every limited request.
void set_headers(http::Response& res, const ratelimit::RuleOutcome& o) {
  const auto& r = *o.rule;
  const auto limit = static_cast<long long>(r.burst);
  const auto remaining = static_cast<long long>(std::floor(std::max(0.0, o.verdict.remaining)));
  const auto reset = seconds_up(std::max(o.verdict.reset_ms, o.blocked ? o.blocked_ms : 0));
  const auto window = std::chrono::duration_cast<std::chrono::seconds>(r.window).count();
  std::string v;
  v.reserve(64 + r.name.size());
  auto add_int = [&](std::string_view name, long long value) {
    v.clear();
    append_int(v, value);
    res.headers.add(name, v);
  };
  res.headers.reserve(res.headers.fields().size() + 6);
  add_int("X-RateLimit-Limit", limit);
  add_int("X-RateLimit-Remaining", remaining);
  add_int("X-RateLimit-Reset", reset);
  add_int("X-RateLimit-Window", window);
  // draft-ietf-httpapi-ratelimit-headers-07
  v.clear();
  append_int(v, static_cast<long long>(r.limit));
  v += ";w=";
  append_int(v, window);
  v += ";burst=";
  append_int(v, limit);
  v += ";policy=\"";
  v += r.name;
  v += '"';
  res.headers.add("RateLimit-Policy", v);
  v.clear();
  v += "limit=";
  append_int(v, limit);
  v += ", remaining=";
  append_int(v, remaining);
  v += ", reset=";
  append_int(v, reset);
  res.headers.add("RateLimit", v);
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
    ratelimit::RequestInfo info;
    info.client_ip = ctx.client_ip;
    info.category = std::string(http::to_string(ctx.route->rate_category));
    info.route = ctx.route->path;
    // Per-user buckets key on the user of a validly signed token (the session is checked
    // later, by authentication; a signature is enough to know whose bucket it is).
    if (auto auth = req.headers.get("Authorization");
        auth && auth->size() > 7 && http::iequals(auth->substr(0, 7), "bearer ")) {
      if (auto claims = auth_.verify_token(auth->substr(7))) {
        ctx.token = http::VerifiedToken{claims->user_id, claims->role, claims->session_id};
        info.user_id = claims->user_id;
        info.role = claims->role;
      }
    }
    // (Not a conditional expression: GCC 12 miscompiles co_await inside one.)
    ratelimit::Decision d;
    if (limiter_.redis_active()) {
      d = co_await limiter_.check(info);
    } else {
      d = limiter_.check_local(info);
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
      set_headers(res, o);
      if (limiter_.should_report(o.key)) report(req, ctx, info, o);
      co_return res;
    }
    http::Response res = co_await next(req, ctx);
    if (d.tightest >= 0) set_headers(res, d.outcomes[static_cast<std::size_t>(d.tightest)]);
    co_return res;
  }

 private:
  // The refusal as a security event, written off the request path (the refusal does not wait).
  void report(const http::Request& req, const http::RequestContext& ctx,
              const ratelimit::RequestInfo& info, const ratelimit::RuleOutcome& o) {
    auth::ClientInfo client = auth::client_info(req, ctx);
    http::Principal who;
    who.user_id = info.user_id;
    std::string details = o.rule->name + " on " + info.route + (o.blocked ? " (penalty)" : "");
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
