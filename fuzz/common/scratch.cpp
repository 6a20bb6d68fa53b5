#include "common/scratch.hpp"

#include <sqlite3.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "log/log.hpp"

namespace evald::fuzz {

const std::string& scratch_dir() {
  static const std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/evald-fuzz-XXXXXX";
    if (!mkdtemp(pattern.data())) {
      std::perror("evald fuzz: mkdtemp");
      std::abort();
    }
    // Only the process that made it removes it (libFuzzer's -fork children share it).
    static const pid_t owner = getpid();
    static std::string to_remove = pattern;
    std::atexit([] {
      if (getpid() != owner) return;
      std::error_code ec;
      std::filesystem::remove_all(to_remove, ec);
    });
    return pattern;
  }();
  return dir;
}

Settings scratch_settings() {
  const std::string& dir = scratch_dir();
  ConfigSources sources;
  sources.flags = {
      {"ENVIRONMENT", "test"},
      {"DATABASE_URL", "sqlite://" + dir + "/evald.db"},
      {"DATA_DIR", dir + "/data"},
      {"JWT_SECRET", "fuzzing-secret-0123456789abcdef0123456789"},
      {"LOG_LEVEL", "off"},
      {"RATE_LIMIT_ENABLED", "false"},
      {"THREADS", "1"},
      {"WORKER_THREADS", "2"},
      {"DB_POOL_WAIT_MS", "60000"},
      {"ADMIN_LOGIN_ID", "admin"},
      {"ADMIN_PASSWORD", "fuzzing evald all day 42"},
      {"ADMIN_EMAIL", "admin@example.org"},
      {"HEALTH_CHECK_INTERVAL_MS", "600000"},
      {"DOCS_ASSETS_DIR", dir + "/no-docs-assets"},
  };
  auto loaded = load_settings(sources, 2);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) std::cerr << "evald fuzz: settings: " << e << "\n";
    std::abort();
  }
  return loaded.settings;
}

void init_quiet_logging() {
  static const bool done = [] {
    LogSettings s;
    s.level = "off";
    log::init(s);
    return true;
  }();
  (void)done;
}

void broken(std::string_view what, std::string_view context) {
  std::cerr << "\n==evald-fuzz== BROKEN PROPERTY: " << what << "\n";
  if (!context.empty()) std::cerr << context << "\n";
  std::cerr.flush();
  std::abort();
}

bool is_strict_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return false;
    }
    if (i + len > n || p[i + 1] < lo || p[i + 1] > hi) return false;
    for (std::size_t k = 2; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

namespace {

int trace_statement(unsigned type, void*, void* p, void*) {
  if (type != SQLITE_TRACE_STMT) return 0;
  char* sql = sqlite3_expanded_sql(static_cast<sqlite3_stmt*>(p));
  if (sql) {
    const std::string text(sql);
    sqlite3_free(sql);
    if (!is_strict_utf8(text)) {
      broken("a statement binds text that is not UTF-8 (PostgreSQL refuses it)",
             text.substr(0, 2000));
    }
  }
  return 0;
}

int on_open(sqlite3* db, const char**, const struct sqlite3_api_routines*) {
  sqlite3_trace_v2(db, SQLITE_TRACE_STMT, trace_statement, nullptr);
  return SQLITE_OK;
}

}  // namespace

void check_sql_text_is_utf8() {
  static const int done = sqlite3_auto_extension(reinterpret_cast<void (*)()>(on_open));
  (void)done;
}

bool is_valid_json(std::string_view s) {
  boost::system::error_code ec;
  boost::json::parse_options opt;
  opt.max_depth = 10'000;  // the property is the text's validity, not its depth
  boost::json::parse(s, ec, {}, opt);
  return !ec;
}

}  // namespace evald::fuzz
