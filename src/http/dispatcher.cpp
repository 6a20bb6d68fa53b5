#include "http/dispatcher.hpp"

#include "http/query.hpp"

namespace evald::http {
namespace {

boost::asio::awaitable<Response> reply_error(ApiError error) {
  co_return Response::from_error(std::move(error));
}

}  // namespace

boost::asio::awaitable<Response> RouteTerminal::handle(Request& req, RequestContext& ctx) {
  if (ctx.route) {
    // No handler sees a query parameter that is not text (handlers bind them into SQL).
    if (auto bad = check_query(req.query)) return reply_error(std::move(*bad));
    return ctx.route->handler(req, ctx);
  }
  return reply_unrouted(req, ctx);
}

boost::asio::awaitable<Response> RouteTerminal::reply_unrouted(Request& req, RequestContext& ctx) {
  if (!ctx.allow.empty()) {
    auto r = Response::from_error(ApiError::method_not_allowed());
    r.headers.set("Allow", ctx.allow);
    co_return r;
  }
  co_return Response::from_error(ApiError::not_found("No route matches " + req.path));
}

boost::asio::awaitable<Response> Dispatcher::dispatch(Request& req, RequestContext& ctx) const {
  auto match = router_->match(req.method, req.path);
  ctx.route = match.route;
  ctx.path_params = std::move(match.params);
  ctx.allow = std::move(match.allow);
  return pipeline_->run(req, ctx);
}

}  // namespace evald::http
