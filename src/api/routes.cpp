#include "api/routes.hpp"

#include <boost/json.hpp>

namespace evald::api {

http::Response ok_json(const boost::json::value& v, unsigned status) {
  return http::Response::json(status, boost::json::serialize(v));
}

boost::json::value schema(std::string_view text) { return boost::json::parse(text); }

std::vector<http::RouteSpec> all_routes(AppContext& app) {
  auto routes = health_routes(app);
  for (auto* table :
       {&metrics_routes, &auth_routes, &security_event_routes, &ratelimit_routes, &error_log_routes,
        &admin_routes, &status_page_routes, &status_routes, &user_routes, &project_routes,
        &company_routes, &template_routes, &evaluation_routes, &result_routes, &file_routes}) {
    auto more = table(app);
    std::move(more.begin(), more.end(), std::back_inserter(routes));
  }
  if (app.settings.environment == Environment::kTest) {
    auto t = test_routes(app);
    std::move(t.begin(), t.end(), std::back_inserter(routes));
  }
  // The docs describe the whole table, themselves included: they get it once it is complete.
  // Their copy has no handlers: the OpenAPI route's handler holds `all`, and a copy of that
  // handler inside `all` would keep the table alive for ever (a shared_ptr cycle, which
  // LeakSanitizer reported at every exit).
  auto all = std::make_shared<std::vector<http::RouteSpec>>();
  auto docs = docs_routes(app, all);
  std::move(docs.begin(), docs.end(), std::back_inserter(routes));
  all->reserve(routes.size());
  for (const auto& r : routes) {
    all->push_back(r);
    all->back().handler = nullptr;
  }
  return routes;
}

}  // namespace evald::api
