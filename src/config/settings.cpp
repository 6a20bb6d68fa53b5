#include "config/settings.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <optional>
#include <sstream>

namespace evald {
namespace {

using Apply = std::function<std::optional<std::string>(Settings&, const std::string&)>;

struct Def {
  SettingInfo info;
  Apply apply;
};

template <class T>
std::optional<std::string> parse_uint(const std::string& v, T min, T max, T& out) {
  unsigned long long n = 0;
  const auto* end = v.data() + v.size();
  auto [ptr, ec] = std::from_chars(v.data(), end, n);
  if (v.empty() || ec != std::errc{} || ptr != end || n < min || n > max) {
    return "must be a whole number from " + std::to_string(min) + " to " + std::to_string(max);
  }
  out = static_cast<T>(n);
  return std::nullopt;
}

Apply uint_field(std::function<unsigned&(Settings&)> field, unsigned min, unsigned max) {
  return [field = std::move(field), min, max](Settings& s, const std::string& v) {
    return parse_uint<unsigned>(v, min, max, field(s));
  };
}

Apply size_field(std::function<std::size_t&(Settings&)> field, std::size_t min, std::size_t max) {
  return [field = std::move(field), min, max](Settings& s, const std::string& v) {
    return parse_uint<std::size_t>(v, min, max, field(s));
  };
}

Apply port_field(std::function<uint16_t&(Settings&)> field) {
  return [field = std::move(field)](Settings& s, const std::string& v) {
    return parse_uint<uint16_t>(v, 1, 65535, field(s));
  };
}

Apply string_field(std::function<std::string&(Settings&)> field) {
  return
      [field = std::move(field)](Settings& s, const std::string& v) -> std::optional<std::string> {
        field(s) = v;
        return std::nullopt;
      };
}

Apply choice_field(std::function<std::string&(Settings&)> field, std::vector<std::string> choices) {
  return [field = std::move(field), choices = std::move(choices)](
             Settings& s, const std::string& v) -> std::optional<std::string> {
    if (std::find(choices.begin(), choices.end(), v) == choices.end()) {
      std::string all;
      for (const auto& c : choices) all += (all.empty() ? "" : ", ") + c;
      return "must be one of " + all;
    }
    field(s) = v;
    return std::nullopt;
  };
}

std::vector<std::string> split_list(const std::string& v) {
  std::vector<std::string> out;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto b = item.find_first_not_of(" \t");
    const auto e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

Apply list_field(std::function<std::vector<std::string>&(Settings&)> field) {
  return
      [field = std::move(field)](Settings& s, const std::string& v) -> std::optional<std::string> {
        field(s) = split_list(v);
        return std::nullopt;
      };
}

bool valid_cidr(const std::string& c) {
  const auto slash = c.find('/');
  const std::string addr = c.substr(0, slash);
  const bool v6 = addr.find(':') != std::string::npos;
  if (slash != std::string::npos) {
    unsigned bits = 0;
    if (parse_uint<unsigned>(c.substr(slash + 1), 0, v6 ? 128 : 32, bits)) return false;
  }
  if (v6) {
    return std::all_of(addr.begin(), addr.end(), [](unsigned char ch) {
      return std::isxdigit(ch) || ch == ':' || ch == '.';
    });
  }
  int parts = 0;
  std::stringstream ss(addr);
  std::string p;
  while (std::getline(ss, p, '.')) {
    unsigned n = 0;
    if (parse_uint<unsigned>(p, 0, 255, n)) return false;
    ++parts;
  }
  return parts == 4;
}

Apply cidr_list_field(std::function<std::vector<std::string>&(Settings&)> field) {
  return
      [field = std::move(field)](Settings& s, const std::string& v) -> std::optional<std::string> {
        auto items = split_list(v);
        for (const auto& c : items) {
          if (!valid_cidr(c)) return "'" + c + "' is not an IP address or CIDR block";
        }
        field(s) = std::move(items);
        return std::nullopt;
      };
}

Apply bool_field(std::function<bool&(Settings&)> field) {
  return [field = std::move(field)](Settings& s,
                                    const std::string& v) -> std::optional<std::string> {
    std::string l = v;
    std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
    if (l == "true" || l == "1" || l == "yes" || l == "on") {
      field(s) = true;
    } else if (l == "false" || l == "0" || l == "no" || l == "off") {
      field(s) = false;
    } else {
      return std::string("must be true or false");
    }
    return std::nullopt;
  };
}

const std::vector<std::string> kModules{"app",  "http", "access", "db",     "ratelimit",
                                        "auth", "mail", "health", "domain", "docs"};
const std::vector<std::string> kLevels{"trace", "debug",    "info", "warn",
                                       "error", "critical", "off"};

std::optional<std::string> validate_log_level(const std::string& v) {
  for (const auto& part : split_list(v)) {
    const auto eq = part.find('=');
    const std::string module = eq == std::string::npos ? "" : part.substr(0, eq);
    const std::string level = eq == std::string::npos ? part : part.substr(eq + 1);
    if (!module.empty() && std::find(kModules.begin(), kModules.end(), module) == kModules.end()) {
      return "unknown module '" + module + "'";
    }
    if (std::find(kLevels.begin(), kLevels.end(), level) == kLevels.end()) {
      return "unknown level '" + level + "' (trace, debug, info, warn, error, critical, off)";
    }
  }
  return std::nullopt;
}

std::optional<std::string> validate_url(const std::string& v,
                                        const std::vector<std::string>& schemes) {
  for (const auto& s : schemes) {
    if (v.rfind(s + "://", 0) == 0 && v.size() > s.size() + 3) return std::nullopt;
  }
  std::string all;
  for (const auto& s : schemes) all += (all.empty() ? "" : " or ") + s + "://...";
  return "must be " + all;
}

const std::vector<Def>& defs() {
  static const std::vector<Def> table = [] {
    std::vector<Def> d;
    auto add = [&](std::string name, std::string def, std::string help, Apply apply,
                   bool secret = false) {
      d.push_back(Def{SettingInfo{std::move(name), std::move(def), std::move(help), secret},
                      std::move(apply)});
    };
    add("HOST", "0.0.0.0", "address to listen on",
        string_field([](Settings& s) -> std::string& { return s.server.host; }));
    add("PORT", "8000", "TCP port to listen on",
        port_field([](Settings& s) -> uint16_t& { return s.server.port; }));
    add("THREADS", "", "I/O threads (default: number of cores)",
        uint_field([](Settings& s) -> unsigned& { return s.server.threads; }, 1, 256));
    add("WORKER_THREADS", "", "threads for blocking work (default: max(8, 4 x cores))",
        uint_field([](Settings& s) -> unsigned& { return s.server.worker_threads; }, 1, 1024));
    add("ENVIRONMENT", "development", "development, test, staging or production",
        [](Settings& s, const std::string& v) -> std::optional<std::string> {
          if (v == "development") {
            s.environment = Environment::kDevelopment;
          } else if (v == "test") {
            s.environment = Environment::kTest;
          } else if (v == "staging") {
            s.environment = Environment::kStaging;
          } else if (v == "production") {
            s.environment = Environment::kProduction;
          } else {
            return std::string("must be one of development, test, staging, production");
          }
          return std::nullopt;
        });
    add("API_VERSION", "1.1.0", "API version reported by /docs/version and OpenAPI",
        string_field([](Settings& s) -> std::string& { return s.api_version; }));
    add("DOCS_ASSETS_DIR", "web/node_modules",
        "where swagger-ui-dist and redoc are installed (npm ci in web/), for /docs/",
        string_field([](Settings& s) -> std::string& { return s.docs_assets_dir; }));
    add("MAX_BODY_BYTES", "10485760", "largest request body; larger ones get 413",
        size_field([](Settings& s) -> std::size_t& { return s.server.max_body_bytes; }, 1024,
                   1ull << 32));
    add("MAX_HEADER_BYTES", "16384", "largest request head (request line and headers)",
        size_field([](Settings& s) -> std::size_t& { return s.server.max_header_bytes; }, 1024,
                   1 << 20));
    add("HEADER_TIMEOUT_MS", "10000", "time allowed to send a request head on a new connection",
        uint_field([](Settings& s) -> unsigned& { return s.server.header_timeout_ms; }, 10,
                   600'000));
    add("BODY_TIMEOUT_MS", "30000", "time allowed to send a request body",
        uint_field([](Settings& s) -> unsigned& { return s.server.body_timeout_ms; }, 10,
                   3'600'000));
    add("IDLE_TIMEOUT_MS", "60000", "keep-alive wait for the next request",
        uint_field([](Settings& s) -> unsigned& { return s.server.idle_timeout_ms; }, 10,
                   3'600'000));
    add("WRITE_TIMEOUT_MS", "30000", "time allowed to write a response",
        uint_field([](Settings& s) -> unsigned& { return s.server.write_timeout_ms; }, 10,
                   3'600'000));
    add("MAX_CONNECTIONS", "10000",
        "open connections at most; at the limit a new one takes the place of the "
        "connection idle longest, or is closed at once when none is idle",
        uint_field([](Settings& s) -> unsigned& { return s.server.max_connections; }, 1,
                   1'000'000));
    add("DRAIN_TIMEOUT_MS", "25000", "on SIGTERM, how long in-flight requests may take to finish",
        uint_field([](Settings& s) -> unsigned& { return s.server.drain_timeout_ms; }, 0,
                   3'600'000));
    add("CORS_ORIGINS", "http://localhost:3000", "comma-separated allowed origins",
        list_field([](Settings& s) -> std::vector<std::string>& { return s.server.cors_origins; }));
    add("TRUSTED_PROXIES", "", "CIDRs whose X-Forwarded-For is believed",
        cidr_list_field(
            [](Settings& s) -> std::vector<std::string>& { return s.server.trusted_proxies; }));
    add("TLS_CERT_FILE", "", "serve HTTPS with this certificate (PEM)",
        string_field([](Settings& s) -> std::string& { return s.server.tls_cert_file; }));
    add("TLS_KEY_FILE", "", "private key for TLS_CERT_FILE (PEM)",
        string_field([](Settings& s) -> std::string& { return s.server.tls_key_file; }));
    add("LOG_LEVEL", "info", "level, optionally per module: info,ratelimit=debug,db=debug",
        [](Settings& s, const std::string& v) -> std::optional<std::string> {
          if (auto e = validate_log_level(v)) return e;
          s.log.level = v;
          return std::nullopt;
        });
    add("LOG_FORMAT", "json", "json or text",
        choice_field([](Settings& s) -> std::string& { return s.log.format; }, {"json", "text"}));
    add(
        "DATABASE_URL", "sqlite://data/evald.db",
        "sqlite://PATH or postgresql://user:pass@host:port/db",
        [](Settings& s, const std::string& v) -> std::optional<std::string> {
          if (auto e = validate_url(v, {"sqlite", "postgresql", "postgres"})) return e;
          s.db.url = v;
          return std::nullopt;
        },
        true);
    add("DB_MAX_POOL_SIZE", "50", "most database connections",
        uint_field([](Settings& s) -> unsigned& { return s.db.max_pool_size; }, 1, 10'000));
    add("DB_MIN_POOL_SIZE", "5", "database connections kept open",
        uint_field([](Settings& s) -> unsigned& { return s.db.min_pool_size; }, 0, 10'000));
    add("DB_MAX_IDLE_TIME_MS", "300000", "idle connections above the minimum close after this",
        uint_field([](Settings& s) -> unsigned& { return s.db.max_idle_time_ms; }, 1000,
                   86'400'000));
    add("QUERY_CACHE_TTL_SECONDS", "300", "query result cache lifetime (0 disables the cache)",
        uint_field([](Settings& s) -> unsigned& { return s.db.query_cache_ttl_seconds; }, 0,
                   86'400));
    add("SLOW_QUERY_MS", "200", "queries slower than this are logged and counted",
        uint_field([](Settings& s) -> unsigned& { return s.db.slow_query_ms; }, 1, 600'000));
    add("DB_POOL_WAIT_MS", "5000", "wait for a free database connection, then answer 503",
        uint_field([](Settings& s) -> unsigned& { return s.db.pool_wait_ms; }, 1, 600'000));
    add("DB_CONNECT_TIMEOUT_MS", "10000", "PostgreSQL connect timeout",
        uint_field([](Settings& s) -> unsigned& { return s.db.connect_timeout_ms; }, 1000,
                   600'000));
    add("DB_STATEMENT_TIMEOUT_MS", "30000", "PostgreSQL statement timeout",
        uint_field([](Settings& s) -> unsigned& { return s.db.statement_timeout_ms; }, 1,
                   3'600'000));
    add("DB_BUSY_TIMEOUT_MS", "5000", "SQLite wait on a lock held by another process",
        uint_field([](Settings& s) -> unsigned& { return s.db.busy_timeout_ms; }, 0, 600'000));
    add("QUERY_CACHE_MAX_ENTRIES", "10000", "query cache size bound (least recently used go)",
        size_field([](Settings& s) -> std::size_t& { return s.db.query_cache_max_entries; }, 0,
                   10'000'000));
    add("MIGRATE_ON_START", "true", "evald serve applies missing migrations at start",
        bool_field([](Settings& s) -> bool& { return s.db.migrate_on_start; }));
    add("BACKUP_DIR", "", "directory for scheduled and API backups",
        string_field([](Settings& s) -> std::string& { return s.db.backup_dir; }));
    add("BACKUP_INTERVAL_HOURS", "24", "hours between scheduled backups",
        uint_field([](Settings& s) -> unsigned& { return s.db.backup_interval_hours; }, 1, 8760));
    add("BACKUP_KEEP", "7", "scheduled backups kept",
        uint_field([](Settings& s) -> unsigned& { return s.db.backup_keep; }, 1, 10'000));
    add(
        "REDIS_URL", "", "redis://host:port/db; empty means in-process rate limiting",
        [](Settings& s, const std::string& v) -> std::optional<std::string> {
          if (!v.empty()) {
            if (auto e = validate_url(v, {"redis"})) return e;
          }
          s.ratelimit.redis_url = v;
          return std::nullopt;
        },
        true);
    add("JWT_SECRET", "", "HMAC key for access tokens; required outside development and test",
        string_field([](Settings& s) -> std::string& { return s.auth.jwt_secret; }), true);
    add("JWT_SECRET_PREVIOUS", "",
        "the JWT_SECRET before a rotation: its tokens stay valid until they expire",
        string_field([](Settings& s) -> std::string& { return s.auth.jwt_secret_previous; }), true);
    add("MFA_ENCRYPTION_KEY", "", "key for MFA secrets at rest (default: derived from JWT_SECRET)",
        string_field([](Settings& s) -> std::string& { return s.auth.mfa_encryption_key; }), true);
    add("ACCESS_TOKEN_EXPIRE_MINUTES", "60", "access token lifetime",
        uint_field([](Settings& s) -> unsigned& { return s.auth.access_token_expire_minutes; }, 1,
                   10'080));
    add("MAX_FAILED_ATTEMPTS", "5", "failed logins before lockout",
        uint_field([](Settings& s) -> unsigned& { return s.auth.max_failed_attempts; }, 1, 1000));
    add("LOCKOUT_DURATION_MINUTES", "30", "lockout length",
        uint_field([](Settings& s) -> unsigned& { return s.auth.lockout_duration_minutes; }, 1,
                   525'600));
    add("RESET_TOKEN_EXPIRY_HOURS", "24", "password reset token lifetime",
        uint_field([](Settings& s) -> unsigned& { return s.auth.reset_token_expiry_hours; }, 1,
                   720));
    add("SESSION_TIMEOUT_HOURS", "24", "idle session lifetime",
        uint_field([](Settings& s) -> unsigned& { return s.auth.session_timeout_hours; }, 1, 8760));
    add("ADMIN_LOGIN_ID", "", "first admin, created at start-up when no admin exists",
        string_field([](Settings& s) -> std::string& { return s.auth.admin_login_id; }));
    add("ADMIN_PASSWORD", "", "password of the first admin",
        string_field([](Settings& s) -> std::string& { return s.auth.admin_password; }), true);
    add("ADMIN_EMAIL", "", "email of the first admin",
        string_field([](Settings& s) -> std::string& { return s.auth.admin_email; }));
    add("FRONTEND_URL", "http://localhost:3000", "base of the link in reset mails",
        [](Settings& s, const std::string& v) -> std::optional<std::string> {
          if (auto e = validate_url(v, {"http", "https"})) return e;
          s.auth.frontend_url = v;
          return std::nullopt;
        });
    add("SMTP_SERVER", "", "mail server host",
        string_field([](Settings& s) -> std::string& { return s.mail.smtp_server; }));
    add("SMTP_PORT", "587", "mail server port",
        port_field([](Settings& s) -> uint16_t& { return s.mail.smtp_port; }));
    add("SMTP_USERNAME", "", "mail server login",
        string_field([](Settings& s) -> std::string& { return s.mail.smtp_username; }));
    add("SMTP_PASSWORD", "", "mail server password",
        string_field([](Settings& s) -> std::string& { return s.mail.smtp_password; }), true);
    add("SMTP_TLS", "starttls", "starttls, tls or none",
        choice_field([](Settings& s) -> std::string& { return s.mail.smtp_tls; },
                     {"starttls", "tls", "none"}));
    add("FROM_EMAIL", "noreply@onlineevaluation.com", "sender of outgoing mail",
        string_field([](Settings& s) -> std::string& { return s.mail.from_email; }));
    add("MAIL_RETRY_BASE_MS", "5000", "first retry of a failed delivery; doubles up to 10 minutes",
        uint_field([](Settings& s) -> unsigned& { return s.mail.retry_base_ms; }, 10, 600'000));
    add("MAIL_MAX_ATTEMPTS", "20", "deliveries tried before a mail is given up",
        uint_field([](Settings& s) -> unsigned& { return s.mail.max_attempts; }, 1, 1000));
    add("RATE_LIMIT_ENABLED", "true", "rate limiting on or off",
        bool_field([](Settings& s) -> bool& { return s.ratelimit.enabled; }));
    add("RATE_LIMIT_RULES", "", "rules file (JSON or YAML) replacing the defaults",
        string_field([](Settings& s) -> std::string& { return s.ratelimit.rules_file; }));
    add("REDIS_TIMEOUT_MS", "25", "a slower Redis answer switches the limiter to in-process",
        uint_field([](Settings& s) -> unsigned& { return s.ratelimit.redis_timeout_ms; }, 1,
                   10'000));
    add("REDIS_PROBE_INTERVAL_MS", "1000", "how often Redis is probed (and the script loaded)",
        uint_field([](Settings& s) -> unsigned& { return s.ratelimit.redis_probe_interval_ms; }, 50,
                   600'000));
    add("RATE_LIMIT_BYPASS_TOKEN", "", "outside production, requests carrying it skip limiting",
        string_field([](Settings& s) -> std::string& { return s.ratelimit.bypass_token; }), true);
    add("ERROR_LOG_RETENTION_DAYS", "30", "days error log rows are kept",
        uint_field([](Settings& s) -> unsigned& { return s.monitoring.error_log_retention_days; },
                   1, 3650));
    add("ERROR_LOG_FLUSH_MS", "1000", "how often queued error log entries are written",
        uint_field([](Settings& s) -> unsigned& { return s.monitoring.error_log_flush_ms; }, 10,
                   60'000));
    add("HEALTH_CHECK_INTERVAL_MS", "5000", "how often the background health checks run",
        uint_field([](Settings& s) -> unsigned& { return s.monitoring.health_check_interval_ms; },
                   100, 600'000));
    add("HEALTH_HISTORY_SIZE", "120", "health snapshots kept for /health/history",
        uint_field([](Settings& s) -> unsigned& { return s.monitoring.health_history_size; }, 1,
                   10'000));
    add("HEALTH_CPU_WARN_PERCENT", "90", "CPU use above which health is degraded",
        uint_field([](Settings& s) -> unsigned& { return s.monitoring.health_cpu_warn_percent; }, 1,
                   100));
    add("HEALTH_MEMORY_WARN_PERCENT", "90", "memory use above which health is degraded",
        uint_field([](Settings& s) -> unsigned& { return s.monitoring.health_memory_warn_percent; },
                   1, 100));
    add("HEALTH_DISK_WARN_PERCENT", "90", "data disk use above which health is degraded",
        uint_field([](Settings& s) -> unsigned& { return s.monitoring.health_disk_warn_percent; },
                   1, 100));
    add("HEALTH_ERROR_RATE_WARN_PERCENT", "5",
        "share of 5xx answers above which health is degraded",
        uint_field(
            [](Settings& s) -> unsigned& { return s.monitoring.health_error_rate_warn_percent; }, 1,
            100));
    add("HEALTH_DB_SLOW_MS", "1000", "a database check slower than this warns",
        uint_field([](Settings& s) -> unsigned& { return s.monitoring.health_db_slow_ms; }, 1,
                   600'000));
    add("METRICS_TOKEN", "", "bearer token that may read /health/metrics",
        string_field([](Settings& s) -> std::string& { return s.monitoring.metrics_token; }), true);
    add("ADMIN_ALLOWED_CIDRS", "", "when set, admin and monitoring endpoints answer only these",
        cidr_list_field([](Settings& s) -> std::vector<std::string>& {
          return s.monitoring.admin_allowed_cidrs;
        }));
    add("DATA_DIR", "data", "directory for uploaded files (kept under DATA_DIR/files/)",
        [](Settings& s, const std::string& v) -> std::optional<std::string> {
          if (v.empty()) return std::string("must not be empty");
          s.files.data_dir = v;
          return std::nullopt;
        });
    add("MAX_UPLOAD_BYTES", "10485760", "largest uploaded file; at most MAX_BODY_BYTES",
        size_field([](Settings& s) -> std::size_t& { return s.files.max_upload_bytes; }, 1,
                   1ull << 32));
    return d;
  }();
  return table;
}

void cross_check(const Settings& s, std::vector<std::string>& errors) {
  const bool relaxed =
      s.environment == Environment::kDevelopment || s.environment == Environment::kTest;
  if (!relaxed && s.auth.jwt_secret.empty()) {
    errors.emplace_back("JWT_SECRET: required when ENVIRONMENT is " +
                        std::string(to_string(s.environment)));
  }
  if (!s.auth.jwt_secret.empty() && s.auth.jwt_secret.size() < 32) {
    errors.emplace_back("JWT_SECRET: must be at least 32 characters");
  }
  if (!s.auth.jwt_secret_previous.empty()) {
    if (s.auth.jwt_secret.empty()) {
      errors.emplace_back("JWT_SECRET_PREVIOUS: only with a JWT_SECRET to rotate to");
    } else if (s.auth.jwt_secret_previous.size() < 32) {
      errors.emplace_back("JWT_SECRET_PREVIOUS: must be at least 32 characters");
    } else if (s.auth.jwt_secret_previous == s.auth.jwt_secret) {
      errors.emplace_back("JWT_SECRET_PREVIOUS: must differ from JWT_SECRET");
    }
  }
  if (s.db.min_pool_size > s.db.max_pool_size) {
    errors.emplace_back("DB_MIN_POOL_SIZE: must not exceed DB_MAX_POOL_SIZE");
  }
  if (s.server.tls_cert_file.empty() != s.server.tls_key_file.empty()) {
    errors.emplace_back("TLS_KEY_FILE: TLS_CERT_FILE and TLS_KEY_FILE must be set together");
  }
  if (s.environment == Environment::kProduction && !s.ratelimit.bypass_token.empty()) {
    errors.emplace_back("RATE_LIMIT_BYPASS_TOKEN: must be empty when ENVIRONMENT is production");
  }
  if (s.files.max_upload_bytes > s.server.max_body_bytes) {
    errors.emplace_back("MAX_UPLOAD_BYTES: must not exceed MAX_BODY_BYTES (" +
                        std::to_string(s.server.max_body_bytes) + ")");
  }
  for (const auto& o : s.server.cors_origins) {
    if (o == "*") {
      errors.emplace_back("CORS_ORIGINS: '*' is not allowed; list the origins");
    } else if (validate_url(o, {"http", "https"})) {
      errors.emplace_back("CORS_ORIGINS: '" + o + "' is not an origin like https://host[:port]");
    }
  }
}

}  // namespace

std::string_view to_string(Environment e) {
  switch (e) {
    case Environment::kDevelopment:
      return "development";
    case Environment::kTest:
      return "test";
    case Environment::kStaging:
      return "staging";
    case Environment::kProduction:
      return "production";
  }
  return "development";
}

const std::vector<SettingInfo>& setting_infos() {
  static const std::vector<SettingInfo> infos = [] {
    std::vector<SettingInfo> v;
    for (const auto& d : defs()) v.push_back(d.info);
    return v;
  }();
  return infos;
}

LoadResult load_settings(const ConfigSources& sources, unsigned hardware_threads) {
  LoadResult result;
  RawConfig merged;
  for (const auto* src : {&sources.dotenv, &sources.environment, &sources.flags}) {
    for (const auto& [k, v] : *src) merged[k] = v;
  }
  for (const auto& flag : sources.flags) {
    const std::string& k = flag.first;  // a named variable: clang 14 cannot capture a binding
    const bool known =
        std::any_of(defs().begin(), defs().end(), [&](const Def& d) { return d.info.name == k; });
    if (!known) result.errors.push_back(k + ": unknown setting");
  }
  for (const auto& def : defs()) {
    auto it = merged.find(def.info.name);
    if (it == merged.end()) continue;
    if (auto err = def.apply(result.settings, it->second)) {
      // Secret values are never repeated back, even in a configuration error.
      std::string got = def.info.secret ? "" : " (got '" + it->second + "')";
      result.errors.push_back(def.info.name + ": " + *err + got);
    }
  }
  auto& server = result.settings.server;
  const unsigned cores = std::max(1u, hardware_threads);
  if (server.threads == 0) server.threads = cores;
  if (server.worker_threads == 0) server.worker_threads = std::max(8u, 4 * cores);
  // The default follows a smaller MAX_BODY_BYTES; only an explicit MAX_UPLOAD_BYTES above it is
  // an error (cross_check).
  if (!merged.contains("MAX_UPLOAD_BYTES")) {
    auto& files = result.settings.files;
    files.max_upload_bytes = std::min(files.max_upload_bytes, server.max_body_bytes);
  }
  cross_check(result.settings, result.errors);
  return result;
}

RawConfig parse_dotenv(const std::string& text, std::vector<std::string>& errors) {
  RawConfig out;
  std::stringstream ss(text);
  std::string line;
  int number = 0;
  while (std::getline(ss, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto b = line.find_first_not_of(" \t");
    if (b == std::string::npos || line[b] == '#') continue;
    line = line.substr(b);
    if (line.rfind("export ", 0) == 0) line = line.substr(7);
    const auto eq = line.find('=');
    std::string key = eq == std::string::npos ? "" : line.substr(0, eq);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    const bool key_ok = !key.empty() && std::all_of(key.begin(), key.end(), [](unsigned char c) {
      return std::isupper(c) || std::isdigit(c) || c == '_';
    });
    if (!key_ok) {
      errors.push_back(".env line " + std::to_string(number) + ": expected NAME=VALUE");
      continue;
    }
    std::string value = line.substr(eq + 1);
    const auto vb = value.find_first_not_of(" \t");
    value = vb == std::string::npos ? "" : value.substr(vb);
    if (!value.empty() && (value.front() == '"' || value.front() == '\'')) {
      const char q = value.front();
      const auto close = value.find(q, 1);
      if (close == std::string::npos) {
        errors.push_back(".env line " + std::to_string(number) + ": unterminated quote");
        continue;
      }
      value = value.substr(1, close - 1);
    } else {
      const auto hash = value.find(" #");
      if (hash != std::string::npos) value = value.substr(0, hash);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
    }
    out[key] = value;
  }
  return out;
}

RawConfig read_process_environment() {
  RawConfig out;
  for (const auto& info : setting_infos()) {
    if (const char* v = std::getenv(info.name.c_str())) out[info.name] = v;
  }
  return out;
}

}  // namespace evald
