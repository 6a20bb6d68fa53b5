#include "config/settings.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace evald {
namespace {

bool mentions(const std::vector<std::string>& errors, const std::string& what) {
  return std::any_of(errors.begin(), errors.end(),
                     [&](const std::string& e) { return e.find(what) != std::string::npos; });
}

LoadResult load(RawConfig env, RawConfig dotenv = {}, RawConfig flags = {}) {
  return load_settings(ConfigSources{std::move(env), std::move(dotenv), std::move(flags)}, 8);
}

TEST(Config, DefaultsFollowTheContract) {
  auto r = load({});
  ASSERT_TRUE(r.ok());
  const auto& s = r.settings;
  EXPECT_EQ(s.server.host, "0.0.0.0");
  EXPECT_EQ(s.server.port, 8000);
  EXPECT_EQ(s.server.threads, 8u);  // number of cores
  EXPECT_EQ(s.environment, Environment::kDevelopment);
  EXPECT_EQ(s.api_version, "1.1.0");
  EXPECT_EQ(s.db.url, "sqlite://data/evald.db");
  EXPECT_EQ(s.db.max_pool_size, 50u);
  EXPECT_EQ(s.db.min_pool_size, 5u);
  EXPECT_EQ(s.db.max_idle_time_ms, 300000u);
  EXPECT_EQ(s.db.query_cache_ttl_seconds, 300u);
  EXPECT_EQ(s.db.slow_query_ms, 200u);
  EXPECT_EQ(s.auth.access_token_expire_minutes, 60u);
  EXPECT_EQ(s.auth.max_failed_attempts, 5u);
  EXPECT_EQ(s.auth.lockout_duration_minutes, 30u);
  EXPECT_EQ(s.auth.reset_token_expiry_hours, 24u);
  EXPECT_EQ(s.auth.session_timeout_hours, 24u);
  EXPECT_EQ(s.mail.smtp_port, 587);
  EXPECT_EQ(s.mail.smtp_tls, "starttls");
  EXPECT_EQ(s.mail.from_email, "noreply@onlineevaluation.com");
  EXPECT_EQ(s.auth.frontend_url, "http://localhost:3000");
  ASSERT_EQ(s.server.cors_origins.size(), 1u);
  EXPECT_EQ(s.server.cors_origins[0], "http://localhost:3000");
  EXPECT_TRUE(s.ratelimit.enabled);
  EXPECT_EQ(s.log.level, "info");
  EXPECT_EQ(s.log.format, "json");
  EXPECT_EQ(s.db.backup_interval_hours, 24u);
  EXPECT_EQ(s.db.backup_keep, 7u);
  EXPECT_EQ(s.server.max_body_bytes, 10485760u);
}

TEST(Config, ReportsEveryInvalidValueAtOnce) {
  auto r = load({{"PORT", "abc"},
                 {"THREADS", "0"},
                 {"LOG_FORMAT", "xml"},
                 {"SMTP_TLS", "maybe"},
                 {"RATE_LIMIT_ENABLED", "perhaps"},
                 {"DATABASE_URL", "mysql://x"}});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.errors.size(), 6u);
  for (const char* name :
       {"PORT", "THREADS", "LOG_FORMAT", "SMTP_TLS", "RATE_LIMIT_ENABLED", "DATABASE_URL"}) {
    EXPECT_TRUE(mentions(r.errors, name)) << name;
  }
}

TEST(Config, RejectsOutOfRangeNumbers) {
  EXPECT_FALSE(load({{"PORT", "0"}}).ok());
  EXPECT_FALSE(load({{"PORT", "65536"}}).ok());
  EXPECT_FALSE(load({{"PORT", "-1"}}).ok());
  EXPECT_FALSE(load({{"PORT", "80x"}}).ok());
  EXPECT_FALSE(load({{"PORT", ""}}).ok());
  EXPECT_TRUE(load({{"PORT", "65535"}}).ok());
}

TEST(Config, JwtSecretRequiredOutsideDevelopmentAndTest) {
  EXPECT_TRUE(load({{"ENVIRONMENT", "development"}}).ok());
  EXPECT_TRUE(load({{"ENVIRONMENT", "test"}}).ok());
  for (const char* env : {"staging", "production"}) {
    auto r = load({{"ENVIRONMENT", env}});
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(mentions(r.errors, "JWT_SECRET")) << env;
  }
  EXPECT_TRUE(load({{"ENVIRONMENT", "production"}, {"JWT_SECRET", std::string(32, 'k')}}).ok());
}

TEST(Config, SecretsAreNeverEchoed) {
  auto r = load({{"JWT_SECRET", "short-secret-value"}, {"DATABASE_URL", "mysql://u:pw@h/db"}});
  ASSERT_FALSE(r.ok());
  for (const auto& e : r.errors) {
    EXPECT_EQ(e.find("short-secret-value"), std::string::npos) << e;
    EXPECT_EQ(e.find("pw@h"), std::string::npos) << e;
  }
  // Non-secret values are repeated, to help the operator.
  auto p = load({{"PORT", "http"}});
  EXPECT_TRUE(mentions(p.errors, "'http'"));
}

TEST(Config, PrecedenceIsFlagsThenEnvironmentThenDotenv) {
  auto r = load({{"PORT", "9001"}}, {{"PORT", "9000"}, {"HOST", "127.0.0.1"}}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.settings.server.port, 9001);
  EXPECT_EQ(r.settings.server.host, "127.0.0.1");
  auto f = load({{"PORT", "9001"}}, {{"PORT", "9000"}}, {{"PORT", "9002"}});
  EXPECT_EQ(f.settings.server.port, 9002);
}

TEST(Config, UnknownFlagIsAnError) {
  auto r = load({}, {{"UNRELATED_VARIABLE", "x"}}, {{"NOT_A_SETTING", "1"}});
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(mentions(r.errors, "NOT_A_SETTING"));
  EXPECT_FALSE(mentions(r.errors, "UNRELATED_VARIABLE"));  // .env may serve other tools too
}

TEST(Config, CrossFieldRules) {
  EXPECT_FALSE(load({{"DB_MIN_POOL_SIZE", "10"}, {"DB_MAX_POOL_SIZE", "5"}}).ok());
  EXPECT_FALSE(load({{"TLS_CERT_FILE", "/c.pem"}}).ok());
  EXPECT_FALSE(load({{"CORS_ORIGINS", "*"}}).ok());
  EXPECT_FALSE(load({{"CORS_ORIGINS", "localhost:3000"}}).ok());
  EXPECT_FALSE(load({{"ENVIRONMENT", "production"},
                     {"JWT_SECRET", std::string(40, 'k')},
                     {"RATE_LIMIT_BYPASS_TOKEN", "t"}})
                   .ok());
  EXPECT_TRUE(load({{"ENVIRONMENT", "test"}, {"RATE_LIMIT_BYPASS_TOKEN", "t"}}).ok());
}

TEST(Config, ListsAndCidrs) {
  auto r = load({{"CORS_ORIGINS", "http://a.example, https://b.example:8443"},
                 {"TRUSTED_PROXIES", "10.0.0.0/8,192.168.1.1,::1/128"}});
  ASSERT_TRUE(r.ok()) << r.errors.at(0);
  EXPECT_EQ(r.settings.server.cors_origins.size(), 2u);
  EXPECT_EQ(r.settings.server.cors_origins[1], "https://b.example:8443");
  EXPECT_EQ(r.settings.server.trusted_proxies.size(), 3u);
  EXPECT_FALSE(load({{"TRUSTED_PROXIES", "10.0.0.0/33"}}).ok());
  EXPECT_FALSE(load({{"TRUSTED_PROXIES", "300.1.1.1"}}).ok());
  EXPECT_FALSE(load({{"ADMIN_ALLOWED_CIDRS", "everyone"}}).ok());
}

TEST(Config, LogLevelPerModule) {
  EXPECT_TRUE(load({{"LOG_LEVEL", "info,ratelimit=debug,db=debug"}}).ok());
  EXPECT_TRUE(load({{"LOG_LEVEL", "warn"}}).ok());
  auto r = load({{"LOG_LEVEL", "info,nosuchmodule=debug"}});
  EXPECT_TRUE(mentions(r.errors, "nosuchmodule"));
  EXPECT_FALSE(load({{"LOG_LEVEL", "loud"}}).ok());
}

TEST(Config, WorkerThreadsDefault) {
  auto r = load_settings(ConfigSources{}, 2);
  EXPECT_EQ(r.settings.server.threads, 2u);
  EXPECT_EQ(r.settings.server.worker_threads, 8u);
}

TEST(Dotenv, ParsesTheUsualForms) {
  std::vector<std::string> errors;
  auto m = parse_dotenv(
      "# comment\n"
      "PORT=9000\n"
      "export HOST=127.0.0.1\n"
      "JWT_SECRET=\"a b # c\"\n"
      "FROM_EMAIL='x@y.z'\n"
      "LOG_LEVEL=debug # trailing comment\n"
      "EMPTY=\n"
      "\r\n"
      "  \n",
      errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(m["PORT"], "9000");
  EXPECT_EQ(m["HOST"], "127.0.0.1");
  EXPECT_EQ(m["JWT_SECRET"], "a b # c");
  EXPECT_EQ(m["FROM_EMAIL"], "x@y.z");
  EXPECT_EQ(m["LOG_LEVEL"], "debug");
  EXPECT_EQ(m["EMPTY"], "");
}

TEST(Dotenv, ReportsBadLinesWithTheirNumber) {
  std::vector<std::string> errors;
  parse_dotenv("PORT=1\nnot a setting\nX=\"open\n", errors);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[0].find("line 2"), std::string::npos);
  EXPECT_NE(errors[1].find("line 3"), std::string::npos);
}

}  // namespace
}  // namespace evald
