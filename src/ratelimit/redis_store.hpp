#pragma once
/// The Redis rate-limit store, shared by every evald instance. One Lua script (called by its
/// SHA-1, sent in full only when Redis has not seen it) checks and updates all of a request's
/// buckets atomically on Redis's own clock, with key expiry so idle keys vanish.
///
/// Each I/O thread owns one hiredis connection driven by its own io_context, so the calls of
/// concurrent requests on a thread are pipelined on that connection. A call that fails or
/// takes longer than the timeout trips a circuit breaker: every thread then uses the
/// in-process store at once, and a background probe switches back when Redis answers.
/// decide() and clear() must be awaited on an I/O thread (a single-threaded io_context).

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ratelimit/decision.hpp"

namespace evald::ratelimit {

struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string username;
  std::string password;
};
/// redis://[[user]:password@]host[:port][/db]; nullopt when it is not one.
std::optional<RedisEndpoint> parse_redis_url(const std::string& url);

struct RedisOptions {
  RedisEndpoint endpoint;
  std::chrono::milliseconds timeout{25};
  std::chrono::milliseconds probe_interval{1'000};
  std::string key_prefix = "evald:rl:";
};

struct RedisStatus {
  bool available = false;            ///< false: the limiter is in fallback
  std::uint64_t trips = 0;           ///< times the breaker opened
  std::uint64_t recoveries = 0;      ///< times a probe closed it again
  std::uint64_t calls = 0;           ///< scripts answered
  std::uint64_t failures = 0;        ///< calls that failed or timed out
  double last_probe_ms = -1;         ///< round trip of the last successful probe
  std::int64_t since_change_ms = 0;  ///< how long the current mode has lasted
  std::string last_error;
};

/// The Lua script (redis_script.cpp, which documents its arguments and answer) and its SHA-1.
const std::string& redis_script();
const std::string& redis_script_sha();

class RedisStore {
 public:
  explicit RedisStore(RedisOptions options);
  ~RedisStore();
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  /// Probes once (so a reachable Redis is used from the first request), then probes in the
  /// background.
  void start();
  /// Stops the probe and closes every connection; call after the I/O threads have stopped.
  void stop();

  bool available() const { return available_.load(std::memory_order_acquire); }
  /// The decision, or nullopt when Redis failed or was too slow (the breaker is then open).
  boost::asio::awaitable<std::optional<Decision>> decide(const Checks& checks);
  /// Deletes these keys and every key that begins with one of the prefixes; nullopt on failure.
  boost::asio::awaitable<std::optional<std::size_t>> clear(
      const std::vector<std::string>& keys, const std::vector<std::string>& prefixes);
  RedisStatus status() const;

  struct Connection;

 private:
  friend struct Connection;
  Connection& connection_for_this_thread(const boost::asio::any_io_executor& ex);
  void trip(const std::string& why);
  /// The endpoint's address as the probe last resolved it.
  std::string address() const;
  void probe_loop();
  bool probe_once();

  RedisOptions options_;
  const std::uint64_t id_;
  std::atomic<bool> available_{false};
  /// Bumped on every recovery: connections older than it reconnect.
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::uint64_t> trips_{0}, recoveries_{0}, calls_{0}, failures_{0};
  std::atomic<double> last_probe_ms_{-1};
  std::atomic<std::int64_t> changed_at_ms_{0};

  mutable std::mutex mu_;  // connections_, last_error_, the probe's wake-up
  std::vector<std::unique_ptr<Connection>> connections_;
  std::string last_error_;
  std::string address_;
  std::condition_variable probe_cv_;
  bool stopping_ = false;
  std::thread probe_thread_;
};

}  // namespace evald::ratelimit
