#include "log/log.hpp"

#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>
#include <map>
#include <mutex>
#include <sstream>

#include "core/json.hpp"

namespace evald::log {
namespace {

std::atomic<bool> g_json{true};

const char* const kModules[] = {"app",  "http", "access", "db",     "ratelimit",
                                "auth", "mail", "health", "domain", "docs"};

struct State {
  std::mutex mu;
  std::shared_ptr<spdlog::details::thread_pool> pool;
  std::shared_ptr<spdlog::sinks::sink> sink;
};

State& state() {
  static State s;
  return s;
}

}  // namespace

void init(const LogSettings& settings) {
  auto& st = state();
  std::lock_guard lock(st.mu);
  g_json = settings.format == "json";
  spdlog::drop_all();
  // A bounded queue that drops the oldest line rather than ever blocking an I/O thread.
  st.pool = std::make_shared<spdlog::details::thread_pool>(32768, 1);
  st.sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();

  std::map<std::string, spdlog::level::level_enum> levels;
  auto default_level = spdlog::level::info;
  std::stringstream ss(settings.level);
  std::string part;
  while (std::getline(ss, part, ',')) {
    const auto eq = part.find('=');
    if (eq == std::string::npos) {
      default_level = spdlog::level::from_str(part);
    } else {
      levels[part.substr(0, eq)] = spdlog::level::from_str(part.substr(eq + 1));
    }
  }
  for (const char* m : kModules) {
    auto logger = std::make_shared<spdlog::async_logger>(
        m, st.sink, st.pool, spdlog::async_overflow_policy::overrun_oldest);
    auto it = levels.find(m);
    logger->set_level(it == levels.end() ? default_level : it->second);
    logger->flush_on(spdlog::level::err);
    spdlog::register_logger(logger);
  }
  spdlog::set_pattern(g_json ? R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","module":"%n",%v})"
                             : "%Y-%m-%dT%H:%M:%S.%eZ %-5l [%n] %v",
                      spdlog::pattern_time_type::utc);
}

void shutdown() {
  auto& st = state();
  std::lock_guard lock(st.mu);
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->flush(); });
  spdlog::drop_all();
  st.pool.reset();
}

std::shared_ptr<spdlog::logger> get(std::string_view module) {
  auto l = spdlog::get(std::string(module));
  if (!l) {
    // Before init() (unit tests, early CLI errors): a plain synchronous logger.
    l = spdlog::get("app");
    if (!l) {
      static std::once_flag once;
      std::call_once(once, [] {
        auto fallback = spdlog::stderr_logger_mt("app");
        fallback->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","module":"%n",%v})",
                              spdlog::pattern_time_type::utc);
      });
      l = spdlog::get("app");
    }
  }
  return l;
}

Line::Line(std::string_view message) : json_(g_json.load(std::memory_order_relaxed)) {
  text_.reserve(128);
  if (json_) {
    text_ += "\"msg\":\"";
    json_escape_append(text_, message);
    text_ += '"';
  } else {
    text_.append(message);
  }
}

Line& Line::kv(std::string_view key, std::string_view value) {
  if (json_) {
    text_ += ",\"";
    text_.append(key);
    text_ += "\":\"";
    json_escape_append(text_, value);
    text_ += '"';
  } else {
    text_ += ' ';
    text_.append(key);
    text_ += '=';
    // Text lines stay on one line: escape like JSON, quoted when there is a space.
    std::string escaped;
    json_escape_append(escaped, value);
    if (escaped.find(' ') != std::string::npos || escaped.empty()) {
      text_ += '"' + escaped + '"';
    } else {
      text_ += escaped;
    }
  }
  return *this;
}

Line& Line::kv(std::string_view key, long long value) {
  text_ += json_ ? ",\"" : " ";
  text_.append(key);
  text_ += json_ ? "\":" : "=";
  text_ += std::to_string(value);
  return *this;
}

Line& Line::kv(std::string_view key, unsigned long long value) {
  text_ += json_ ? ",\"" : " ";
  text_.append(key);
  text_ += json_ ? "\":" : "=";
  text_ += std::to_string(value);
  return *this;
}

Line& Line::kv(std::string_view key, double value) {
  text_ += json_ ? ",\"" : " ";
  text_.append(key);
  text_ += json_ ? "\":" : "=";
  text_ += fmt::format("{:.3f}", value);
  return *this;
}

Line& Line::kv(std::string_view key, bool value) {
  text_ += json_ ? ",\"" : " ";
  text_.append(key);
  text_ += json_ ? "\":" : "=";
  text_ += value ? "true" : "false";
  return *this;
}

}  // namespace evald::log
