#pragma once
/// Typed, immutable configuration. One struct per module; all built and validated at start-up
/// by load_settings(), which reports every invalid value at once.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace evald {

enum class Environment { kDevelopment, kTest, kStaging, kProduction };
std::string_view to_string(Environment e);

struct ServerSettings {
  std::string host = "0.0.0.0";
  uint16_t port = 8000;
  unsigned threads = 0;         ///< I/O threads; 0 in the table means "number of cores"
  unsigned worker_threads = 0;  ///< blocking-work pool
  std::size_t max_body_bytes = 10 * 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  unsigned header_timeout_ms = 10'000;  ///< whole request head of a new connection
  unsigned body_timeout_ms = 30'000;    ///< whole request body
  unsigned idle_timeout_ms = 60'000;    ///< keep-alive wait for the next request
  unsigned write_timeout_ms = 30'000;
  unsigned max_connections = 10'000;
  unsigned drain_timeout_ms = 25'000;
  std::vector<std::string> cors_origins{"http://localhost:3000"};
  std::vector<std::string> trusted_proxies;
  std::string tls_cert_file;
  std::string tls_key_file;
};

struct LogSettings {
  std::string level = "info";  ///< "info,ratelimit=debug,db=debug"
  std::string format = "json";
};

struct DatabaseSettings {
  std::string url = "sqlite://data/evald.db";
  unsigned max_pool_size = 50;
  unsigned min_pool_size = 5;
  unsigned max_idle_time_ms = 300'000;
  unsigned query_cache_ttl_seconds = 300;
  unsigned slow_query_ms = 200;
  unsigned pool_wait_ms = 5'000;           ///< wait for a free connection, then 503
  unsigned connect_timeout_ms = 10'000;    ///< PostgreSQL connect
  unsigned statement_timeout_ms = 30'000;  ///< PostgreSQL statement_timeout
  unsigned busy_timeout_ms = 5'000;        ///< SQLite, against other processes (backup, CLI)
  std::size_t query_cache_max_entries = 10'000;
  bool migrate_on_start = true;
  std::string backup_dir;
  unsigned backup_interval_hours = 24;
  unsigned backup_keep = 7;
};

struct AuthSettings {
  std::string jwt_secret;
  /// The secret before a rotation: tokens it signed are still accepted (never used to sign),
  /// and MFA secrets sealed under it are sealed again under JWT_SECRET at start.
  std::string jwt_secret_previous;
  std::string mfa_encryption_key;  ///< default: derived from jwt_secret
  unsigned access_token_expire_minutes = 60;
  unsigned max_failed_attempts = 5;
  unsigned lockout_duration_minutes = 30;
  unsigned reset_token_expiry_hours = 24;
  unsigned session_timeout_hours = 24;
  std::string admin_login_id;
  std::string admin_password;
  std::string admin_email;
  std::string frontend_url = "http://localhost:3000";
};

struct MailSettings {
  std::string smtp_server;
  uint16_t smtp_port = 587;
  std::string smtp_username;
  std::string smtp_password;
  std::string smtp_tls = "starttls";
  std::string from_email = "noreply@onlineevaluation.com";
  unsigned retry_base_ms = 5'000;  ///< first retry after a failed delivery; doubles each time
  unsigned max_attempts = 20;
};

struct RateLimitSettings {
  bool enabled = true;
  std::string rules_file;
  std::string bypass_token;
  std::string redis_url;
  /// A Redis call slower than this falls back to the in-process store (circuit breaker).
  unsigned redis_timeout_ms = 25;
  /// How often Redis is probed while the limiter is in fallback (and checked while not).
  unsigned redis_probe_interval_ms = 1'000;
};

struct MonitoringSettings {
  std::string metrics_token;
  unsigned error_log_retention_days = 30;
  unsigned error_log_flush_ms = 1'000;
  unsigned health_check_interval_ms = 5'000;
  unsigned health_history_size = 120;
  unsigned health_cpu_warn_percent = 90;
  unsigned health_memory_warn_percent = 90;
  unsigned health_disk_warn_percent = 90;
  unsigned health_error_rate_warn_percent = 5;
  unsigned health_db_slow_ms = 1'000;
  std::vector<std::string> admin_allowed_cidrs;
};

/// Uploaded files (the evaluation domain's company documents).
struct FileSettings {
  std::string data_dir = "data";  ///< files live under DATA_DIR/files/, named by their SHA-256
  std::size_t max_upload_bytes = 10 * 1024 * 1024;  ///< at most MAX_BODY_BYTES
};

struct Settings {
  Environment environment = Environment::kDevelopment;
  std::string api_version = "1.1.0";
  /// Swagger UI and ReDoc as npm installs them (web/package-lock.json): read once at start.
  std::string docs_assets_dir = "web/node_modules";
  ServerSettings server;
  LogSettings log;
  DatabaseSettings db;
  AuthSettings auth;
  MailSettings mail;
  RateLimitSettings ratelimit;
  MonitoringSettings monitoring;
  FileSettings files;
};

/// One configuration variable: its name, default and meaning (for --help and the docs).
struct SettingInfo {
  std::string name;
  std::string default_value;
  std::string help;
  bool secret = false;
};
const std::vector<SettingInfo>& setting_infos();

/// Variable name -> raw value, one map per source.
using RawConfig = std::map<std::string, std::string>;

struct ConfigSources {
  RawConfig environment;  ///< the process environment
  RawConfig dotenv;       ///< the .env file
  RawConfig flags;        ///< command-line overrides (highest precedence)
};

struct LoadResult {
  Settings settings;
  std::vector<std::string> errors;  ///< "PORT: must be an integer from 1 to 65535 (got 'x')"
  bool ok() const { return errors.empty(); }
};

LoadResult load_settings(const ConfigSources& sources, unsigned hardware_threads);

/// Parses a .env file's text: KEY=VALUE lines, `export ` prefix, # comments, quoted values.
/// Malformed lines are reported in `errors` with their line number.
RawConfig parse_dotenv(const std::string& text, std::vector<std::string>& errors);

/// The process environment, restricted to known variable names.
RawConfig read_process_environment();

}  // namespace evald
