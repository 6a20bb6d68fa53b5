// Placeholder: the routes come with the domain work (docs/DOMAIN.md).

#include "api/routes.hpp"

namespace evald::api {

std::vector<http::RouteSpec> result_routes(AppContext&) { return {}; }

}  // namespace evald::api
