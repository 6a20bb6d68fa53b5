#pragma once
/// The composition root's product: what the parts of evald share, built once by main and passed
/// down explicitly (no global singletons).

#include <memory>
#include <string>

#include "auth/service.hpp"
#include "config/settings.hpp"
#include "core/clock.hpp"
#include "db/backup_scheduler.hpp"
#include "db/database.hpp"
#include "domain/files.hpp"
#include "mail/mail.hpp"
#include "metrics/registry.hpp"
#include "metrics/traffic_history.hpp"
#include "monitoring/error_log.hpp"
#include "monitoring/health.hpp"
#include "net/server.hpp"
#include "net/worker_pool.hpp"
#include "ratelimit/limiter.hpp"

namespace evald {

struct BuildInfo {
  std::string version;
  std::string commit;
  std::string build_time;
};
const BuildInfo& build_info();

struct AppContext;
/// Registers the collectors that read gauges from the parts (database, limiter, auth).
void register_collectors(AppContext& app);
/// Registers the background health checks (database, Redis, outbox, disk, system, errors).
void register_health_checks(AppContext& app);

/// The database options that DatabaseSettings and the worker pool imply.
db::DatabaseOptions database_options(const Settings& s);

struct AppContext {
  /// Opens the database (throws with a clear message when it cannot).
  explicit AppContext(Settings s);

  Settings settings;
  RealClock clock;
  std::unique_ptr<metrics::Metrics> metrics = std::make_unique<metrics::Metrics>();
  /// The last hour of requests, errors, refusals and failed logins, for /status.
  std::unique_ptr<metrics::TrafficHistory> traffic =
      std::make_unique<metrics::TrafficHistory>(clock);
  std::shared_ptr<net::ServerState> server_state;
  std::unique_ptr<net::WorkerPool> workers;
  std::unique_ptr<db::Database> db;
  std::unique_ptr<auth::AuthService> auth;
  std::unique_ptr<ratelimit::Limiter> limiter;
  /// Uploaded files' blobs under DATA_DIR/files (shared by the file, company and project routes).
  std::shared_ptr<domain::FileStore> files;
  std::unique_ptr<monitoring::ErrorLogWriter> error_log;
  std::unique_ptr<monitoring::HealthMonitor> health;
  /// Present when SMTP_SERVER is set; otherwise mail waits in the outbox.
  std::unique_ptr<mail::Mailer> mailer;
  std::unique_ptr<mail::OutboxSender> outbox;
  /// Present when BACKUP_DIR is set.
  std::unique_ptr<db::BackupScheduler> backups;
  std::chrono::system_clock::time_point started_at = std::chrono::system_clock::now();
};

}  // namespace evald
