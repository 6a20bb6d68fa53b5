#pragma once
/// The composition root's product: what the parts of evald share, built once by main and passed
/// down explicitly (no global singletons).

#include <memory>
#include <string>

#include "config/settings.hpp"
#include "core/clock.hpp"
#include "net/server.hpp"
#include "net/worker_pool.hpp"

namespace evald {

struct BuildInfo {
  std::string version;
  std::string commit;
  std::string build_time;
};
const BuildInfo& build_info();

struct AppContext {
  explicit AppContext(Settings s);

  Settings settings;
  RealClock clock;
  std::shared_ptr<net::ServerState> server_state;
  std::unique_ptr<net::WorkerPool> workers;
  std::chrono::system_clock::time_point started_at = std::chrono::system_clock::now();
};

}  // namespace evald
