#include "app/app_context.hpp"

namespace evald {

db::DatabaseOptions database_options(const Settings& s) {
  db::DatabaseOptions o;
  o.url = s.db.url;
  o.max_pool_size = s.db.max_pool_size;
  o.min_pool_size = s.db.min_pool_size;
  o.max_idle_time_ms = s.db.max_idle_time_ms;
  o.pool_wait_ms = s.db.pool_wait_ms;
  o.connect_timeout_ms = s.db.connect_timeout_ms;
  o.statement_timeout_ms = s.db.statement_timeout_ms;
  o.busy_timeout_ms = s.db.busy_timeout_ms;
  o.slow_query_ms = s.db.slow_query_ms;
  o.query_cache_ttl_seconds = s.db.query_cache_ttl_seconds;
  o.query_cache_max_entries = s.db.query_cache_max_entries;
  // A reader per worker thread that may run a query at once, within the pool bound.
  o.readers = std::min(s.server.worker_threads, s.db.max_pool_size);
  return o;
}

AppContext::AppContext(Settings s)
    : settings(std::move(s)),
      server_state(std::make_shared<net::ServerState>(settings.server.threads)),
      workers(std::make_unique<net::WorkerPool>(settings.server.worker_threads)),
      db(db::open_database(database_options(settings), clock)),
      // Hashes at once: about one per core, each holding 19 MiB.
      auth(std::make_unique<auth::AuthService>(*db, clock, settings.auth,
                                               std::max(2u, settings.server.threads))) {
  ratelimit::LimiterOptions limits;
  if (!settings.ratelimit.redis_url.empty()) {
    ratelimit::RedisOptions redis;
    // The URL was validated with the settings; a port or db out of range is caught here.
    auto endpoint = ratelimit::parse_redis_url(settings.ratelimit.redis_url);
    if (!endpoint) throw std::runtime_error("REDIS_URL is not a valid redis:// URL");
    redis.endpoint = *endpoint;
    redis.timeout = std::chrono::milliseconds(settings.ratelimit.redis_timeout_ms);
    redis.probe_interval = std::chrono::milliseconds(settings.ratelimit.redis_probe_interval_ms);
    limits.redis = redis;
  }
  limiter = std::make_unique<ratelimit::Limiter>(ratelimit::default_rules(), clock, limits);
  files = std::make_shared<domain::FileStore>(settings.files.data_dir);
  monitoring::ErrorLogOptions errors;
  errors.retention_days = settings.monitoring.error_log_retention_days;
  errors.flush_interval = std::chrono::milliseconds(settings.monitoring.error_log_flush_ms);
  error_log = std::make_unique<monitoring::ErrorLogWriter>(*db, clock, errors);
  register_collectors(*this);
  server_state->on_early_reply = [m = metrics.get(), t = traffic.get()](
                                     std::string_view method, unsigned status, ErrorCode code) {
    m->http().observe(method, nullptr, status, 0, code);
    t->record_request(std::nullopt, code);
  };
  auth->on_login_outcome([t = traffic.get()](auth::LoginOutcome o) {
    if (o == auth::LoginOutcome::kFailure || o == auth::LoginOutcome::kMfaFailure ||
        o == auth::LoginOutcome::kLocked) {
      t->record_failed_login();
    }
  });
  monitoring::HealthOptions health_options;
  health_options.interval = std::chrono::milliseconds(settings.monitoring.health_check_interval_ms);
  health_options.history = settings.monitoring.health_history_size;
  health = std::make_unique<monitoring::HealthMonitor>(clock, health_options);
  register_health_checks(*this);
  if (!settings.mail.smtp_server.empty()) {
    mailer = mail::make_smtp_mailer(settings.mail);
    outbox = std::make_unique<mail::OutboxSender>(
        *db, *mailer, clock, std::chrono::milliseconds(settings.mail.retry_base_ms),
        settings.mail.max_attempts);
    auth->on_mail_queued([this] { outbox->poke(); });
  }
  if (!settings.db.backup_dir.empty()) {
    backups = std::make_unique<db::BackupScheduler>(
        *db, clock, settings.db.backup_dir, std::chrono::hours(settings.db.backup_interval_hours),
        settings.db.backup_keep, build_info().version);
  }
}

}  // namespace evald
