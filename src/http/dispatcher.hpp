#pragma once
/// Routes a request, then runs the pipeline; the terminal step calls the matched handler.

#include <boost/asio/awaitable.hpp>
#include <memory>

#include "http/pipeline.hpp"
#include "http/router.hpp"

namespace evald::http {

/// Terminal step: the handler of ctx.route, or 404/405 (with Allow) when there is none.
class RouteTerminal final : public Terminal {
 public:
  boost::asio::awaitable<Response> handle(Request& req, RequestContext& ctx) override;

 private:
  static boost::asio::awaitable<Response> reply_unrouted(Request& req, RequestContext& ctx);
};

class Dispatcher {
 public:
  Dispatcher(std::shared_ptr<const Router> router, std::shared_ptr<const Pipeline> pipeline)
      : router_(std::move(router)), pipeline_(std::move(pipeline)) {}

  boost::asio::awaitable<Response> dispatch(Request& req, RequestContext& ctx) const;
  const Router& router() const { return *router_; }

 private:
  std::shared_ptr<const Router> router_;
  std::shared_ptr<const Pipeline> pipeline_;
};

}  // namespace evald::http
