#include "api/routes.hpp"

namespace evald::api {

std::vector<http::RouteSpec> all_routes(AppContext& app) {
  auto routes = health_routes(app);
  if (app.settings.environment == Environment::kTest) {
    auto t = test_routes(app);
    std::move(t.begin(), t.end(), std::back_inserter(routes));
  }
  return routes;
}

}  // namespace evald::api
