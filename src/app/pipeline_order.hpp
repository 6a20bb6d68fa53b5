#pragma once

#include <memory>

#include "app/app_context.hpp"
#include "http/dispatcher.hpp"

namespace evald {

/// Builds the router from every route table and the middleware chain in its declared order.
std::shared_ptr<http::Dispatcher> build_dispatcher(AppContext& app);

}  // namespace evald
