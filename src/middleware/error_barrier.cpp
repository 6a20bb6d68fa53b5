#include <exception>

#include "log/log.hpp"
#include "middleware/middleware.hpp"

namespace evald::middleware {
namespace {

class ErrorBarrier final : public http::Middleware {
 public:
  ErrorBarrier() : logger_(log::get("http")) {}
  std::string_view name() const override { return "error_barrier"; }

  boost::asio::awaitable<http::Response> handle(http::Request& req, http::RequestContext& ctx,
                                                http::Next next) override {
    std::string what;
    try {
      co_return co_await next(req, ctx);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
      what = "unknown exception";
    }
    logger_->error("{}", log::Line("unhandled exception")
                             .kv("request_id", ctx.request_id)
                             .kv("method", req.method)
                             .kv("path", req.path)
                             .kv("what", what));
    co_return http::Response::from_error(ApiError::internal(what));
  }

 private:
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace

std::unique_ptr<http::Middleware> make_error_barrier() { return std::make_unique<ErrorBarrier>(); }

}  // namespace evald::middleware
