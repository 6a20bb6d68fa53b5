#include "log/log.hpp"

#include <spdlog/details/null_mutex.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <map>
#include <mutex>
#include <sstream>

#include "core/json.hpp"
#include "log/writer.hpp"

namespace evald::log {
namespace {

std::atomic<bool> g_json{true};
std::atomic<Writer*> g_writer{nullptr};

constexpr std::size_t kAccessBatchBytes = 16 * 1024;
constexpr const char* kJsonPattern =
    R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","module":"%n",%v})";
constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%eZ %-5l [%n] %v";

const char* const kModules[] = {"app",  "http", "access", "db",     "ratelimit",
                                "auth", "mail", "health", "domain", "docs"};

// Formats on the caller's thread and hands the line to the writer thread.
class WriterSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    if (Writer* w = g_writer.load(std::memory_order_acquire)) {
      w->submit(std::string(buf.data(), buf.size()));
    } else {
      (void)!::write(STDERR_FILENO, buf.data(), buf.size());
    }
  }
  void flush_() override {}
};

struct State {
  std::mutex mu;
  std::unique_ptr<Writer> writer;
  std::shared_ptr<spdlog::sinks::sink> sink;
  std::shared_ptr<spdlog::logger> access;
};

State& state() {
  static State s;
  return s;
}

struct AccessBuffer {
  std::string text;
  std::time_t second = 0;
  char stamp[24] = {};  // "2026-01-15T10:30:00."
  ~AccessBuffer() {
    if (Writer* w = g_writer.load(std::memory_order_acquire); w && !text.empty()) {
      w->submit(std::move(text));
    }
  }
};

AccessBuffer& access_buffer() {
  thread_local AccessBuffer buffer;
  return buffer;
}

}  // namespace

void init(const LogSettings& settings) {
  auto& st = state();
  std::lock_guard lock(st.mu);
  g_json = settings.format == "json";
  spdlog::drop_all();
  g_writer.store(nullptr);
  st.writer = std::make_unique<Writer>(STDERR_FILENO);
  g_writer.store(st.writer.get(), std::memory_order_release);
  st.sink = std::make_shared<WriterSink>();
  st.sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
      g_json ? kJsonPattern : kTextPattern, spdlog::pattern_time_type::utc));

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
    auto logger = std::make_shared<spdlog::logger>(m, st.sink);
    auto it = levels.find(m);
    logger->set_level(it == levels.end() ? default_level : it->second);
    spdlog::register_logger(logger);
  }
  st.access = spdlog::get("access");
}

void shutdown() {
  auto& st = state();
  std::lock_guard lock(st.mu);
  flush_thread();
  if (st.writer) st.writer->flush();
  g_writer.store(nullptr, std::memory_order_release);
  spdlog::drop_all();
  st.access.reset();
  st.writer.reset();
}

std::shared_ptr<spdlog::logger> get(std::string_view module) {
  auto l = spdlog::get(std::string(module));
  if (l) return l;
  // Before init() (unit tests, early CLI errors): a plain synchronous logger on stderr.
  static std::once_flag once;
  static std::shared_ptr<spdlog::logger> fallback;
  std::call_once(once, [] {
    auto sink = std::make_shared<WriterSink>();
    sink->set_formatter(
        std::make_unique<spdlog::pattern_formatter>(kJsonPattern, spdlog::pattern_time_type::utc));
    fallback = std::make_shared<spdlog::logger>("app", sink);
  });
  return fallback;
}

bool access_enabled() {
  const auto& a = state().access;
  return a && a->should_log(spdlog::level::info);
}

void access(const Line& line) {
  auto& b = access_buffer();
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  if (secs != b.second) {
    std::tm tm{};
    gmtime_r(&secs, &tm);
    std::strftime(b.stamp, sizeof b.stamp, "%Y-%m-%dT%H:%M:%S.", &tm);
    b.second = secs;
  }
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  char millis[4] = {static_cast<char>('0' + ms / 100), static_cast<char>('0' + ms / 10 % 10),
                    static_cast<char>('0' + ms % 10), 0};
  if (g_json.load(std::memory_order_relaxed)) {
    b.text += "{\"ts\":\"";
    b.text += b.stamp;
    b.text += millis;
    b.text += "Z\",\"level\":\"info\",\"module\":\"access\",";
    b.text += line.str();
    b.text += "}\n";
  } else {
    b.text += b.stamp;
    b.text += millis;
    b.text += "Z info  [access] ";
    b.text += line.str();
    b.text += '\n';
  }
  if (b.text.size() >= kAccessBatchBytes) flush_thread();
}

void flush_thread() {
  auto& b = access_buffer();
  if (b.text.empty()) return;
  if (Writer* w = g_writer.load(std::memory_order_acquire)) {
    std::string batch;
    batch.reserve(kAccessBatchBytes + 1024);
    batch.swap(b.text);
    w->submit(std::move(batch));
  } else {
    b.text.clear();
  }
}

std::uint64_t dropped_bytes() {
  Writer* w = g_writer.load(std::memory_order_acquire);
  return w ? w->dropped_bytes() : 0;
}

Line::Line(std::string_view message) : json_(g_json.load(std::memory_order_relaxed)) {
  text_.reserve(192);
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
