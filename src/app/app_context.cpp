#include "app/app_context.hpp"

namespace evald {

AppContext::AppContext(Settings s)
    : settings(std::move(s)),
      server_state(std::make_shared<net::ServerState>(settings.server.threads)),
      workers(std::make_unique<net::WorkerPool>(settings.server.worker_threads)) {}

}  // namespace evald
