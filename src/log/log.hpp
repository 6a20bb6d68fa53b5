#pragma once
/// Structured logging on spdlog: one named logger per module, asynchronous, JSON lines or text.
/// A line is built with Line so that the same call site serves both formats:
///   log::get("db")->warn(log::Line("slow query").kv("ms", 250).kv("sql", text));

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

#include "config/settings.hpp"

namespace evald::log {

/// Installs the async sink and the per-module levels. Call once, before any thread starts.
void init(const LogSettings& settings);
/// Flushes and stops the async logger thread.
void shutdown();

/// The module's logger ("app", "http", "access", "db", ...). Valid after init().
std::shared_ptr<spdlog::logger> get(std::string_view module);

class Line;
/// The access log: one line per request, appended to a per-thread buffer that goes to the
/// writer thread in batches (one hand-off per batch, not per line). Cheap enough for every
/// request of an I/O thread.
bool access_enabled();
void access(const Line& line);
/// Hands this thread's buffered access lines to the writer (the I/O threads call it on their
/// heartbeat and before they exit).
void flush_thread();
/// Log bytes dropped because the writer was more than its bound behind.
std::uint64_t dropped_bytes();

class Line {
 public:
  explicit Line(std::string_view message);
  Line& kv(std::string_view key, std::string_view value);
  Line& kv(std::string_view key, const char* value) { return kv(key, std::string_view(value)); }
  Line& kv(std::string_view key, const std::string& value) {
    return kv(key, std::string_view(value));
  }
  Line& kv(std::string_view key, long long value);
  Line& kv(std::string_view key, unsigned long long value);
  Line& kv(std::string_view key, int value) { return kv(key, static_cast<long long>(value)); }
  Line& kv(std::string_view key, unsigned value) {
    return kv(key, static_cast<unsigned long long>(value));
  }
  Line& kv(std::string_view key, long value) { return kv(key, static_cast<long long>(value)); }
  Line& kv(std::string_view key, unsigned long value) {
    return kv(key, static_cast<unsigned long long>(value));
  }
  Line& kv(std::string_view key, double value);
  Line& kv(std::string_view key, bool value);

  const std::string& str() const { return text_; }
  operator std::string_view() const { return text_; }  // NOLINT(google-explicit-constructor)

 private:
  std::string text_;
  bool json_;
};

}  // namespace evald::log

template <>
struct fmt::formatter<evald::log::Line> : fmt::formatter<std::string_view> {
  auto format(const evald::log::Line& l, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(l.str(), ctx);
  }
};
