#include "app/pipeline_order.hpp"

#include "api/routes.hpp"
#include "middleware/middleware.hpp"

namespace evald {

std::shared_ptr<http::Dispatcher> build_dispatcher(AppContext& app) {
  auto router = std::make_shared<const http::Router>(api::all_routes(app));
  const bool development = app.settings.environment == Environment::kDevelopment;

  // The order of the request pipeline, outermost first. Later layers (rate limiting,
  // authentication) join this list; nothing else decides the order.
  std::vector<std::unique_ptr<http::Middleware>> chain;
  chain.push_back(middleware::make_request_id(app.clock, development));
  chain.push_back(middleware::make_access_log(app.metrics->http(), app.error_log.get(), app.clock,
                                              app.traffic.get()));
  // CORS sits outside the error barrier so that a 500 still carries the CORS headers the
  // browser needs to show it to the calling page.
  chain.push_back(middleware::make_cors(app.settings.server.cors_origins));
  chain.push_back(middleware::make_error_barrier());
  chain.push_back(middleware::make_rate_limit(*app.limiter, app.settings, *app.auth, *app.workers));
  if (auto m =
          middleware::make_admin_network(app.settings, *app.auth, *app.workers, *app.limiter)) {
    chain.push_back(std::move(m));  // after rate limiting: it needs the client address
  }
  chain.push_back(middleware::make_authenticate(*app.auth, *app.workers,
                                                app.settings.monitoring.metrics_token));

  auto pipeline = std::make_shared<const http::Pipeline>(std::move(chain),
                                                         std::make_unique<http::RouteTerminal>());
  return std::make_shared<http::Dispatcher>(std::move(router), std::move(pipeline));
}

}  // namespace evald
