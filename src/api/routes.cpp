#include "api/routes.hpp"

namespace evald::api {

std::vector<http::RouteSpec> all_routes(AppContext& app) {
  auto routes = health_routes(app);
  for (auto* table : {&auth_routes, &security_event_routes}) {
    auto more = table(app);
    std::move(more.begin(), more.end(), std::back_inserter(routes));
  }
  if (app.settings.environment == Environment::kTest) {
    auto t = test_routes(app);
    std::move(t.begin(), t.end(), std::back_inserter(routes));
  }
  return routes;
}

}  // namespace evald::api
