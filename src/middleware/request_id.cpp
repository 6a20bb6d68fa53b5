#include "core/ids.hpp"
#include "http/error_body.hpp"
#include "middleware/middleware.hpp"

namespace evald::middleware {
namespace {

class RequestId final : public http::Middleware {
 public:
  RequestId(const Clock& clock, bool development) : clock_(clock), development_(development) {}
  std::string_view name() const override { return "request_id"; }

  boost::asio::awaitable<http::Response> handle(http::Request& req, http::RequestContext& ctx,
                                                http::Next next) override {
    if (ctx.request_id.empty()) {
      auto given = req.headers.get("X-Request-ID");
      ctx.request_id = given && is_sane_request_id(*given) ? std::string(*given) : new_request_id();
    }
    http::Response res = co_await next(req, ctx);
    if (res.error && res.body.empty()) {
      res.body = http::render_error_body(*res.error, ctx.request_id, clock_.now(), development_);
      res.headers.set("Content-Type", "application/json");
    }
    res.headers.set("X-Request-ID", ctx.request_id);
    co_return res;
  }

 private:
  const Clock& clock_;
  bool development_;
};

}  // namespace

std::unique_ptr<http::Middleware> make_request_id(const Clock& clock, bool development) {
  return std::make_unique<RequestId>(clock, development);
}

}  // namespace evald::middleware
