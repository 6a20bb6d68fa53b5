#pragma once
/// The HTTP server: one io_context per I/O thread, each with its own SO_REUSEPORT acceptor,
/// bounded connections and timeouts, and a graceful drain on SIGTERM/SIGINT.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/settings.hpp"
#include "http/dispatcher.hpp"

namespace evald::net {

class WorkerPool;

/// State other parts read: draining (readiness), event-loop heartbeats (liveness), connections.
class ServerState {
 public:
  explicit ServerState(unsigned threads);
  bool draining() const { return draining_.load(std::memory_order_acquire); }
  void set_draining() { draining_.store(true, std::memory_order_release); }

  void beat(unsigned thread, std::chrono::steady_clock::time_point now);
  /// The oldest heartbeat among the I/O threads, as its age.
  std::chrono::milliseconds oldest_heartbeat_age(std::chrono::steady_clock::time_point now) const;
  unsigned threads() const { return static_cast<unsigned>(beats_.size()); }

  std::atomic<long long> open_connections{0};
  std::atomic<long long> in_flight_requests{0};
  std::atomic<unsigned long long> refused_connections{0};
  /// Idle connections closed at the limit to let a new client in.
  std::atomic<unsigned long long> displaced_connections{0};
  /// Connections whose TLS handshake failed (plain HTTP to the HTTPS port, bad clients).
  std::atomic<unsigned long long> tls_handshake_failures{0};
  const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  /// Told of each request the connection itself refuses (malformed, too large) before the
  /// pipeline sees it: method (empty when unknown), status, code. Set before serving.
  std::function<void(std::string_view method, unsigned status, ErrorCode code)> on_early_reply;
  /// Starts the graceful drain (set by the server when it runs; the shutdown endpoint calls it).
  std::function<void()> request_stop;

 private:
  std::atomic<bool> draining_{false};
  std::vector<std::atomic<long long>> beats_;
};

class Server {
 public:
  /// File bodies (downloads, exports) are read in chunks on `workers`, never on an I/O thread.
  Server(const Settings& settings, std::shared_ptr<const http::Dispatcher> dispatcher,
         std::shared_ptr<ServerState> state, WorkerPool& workers);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds every acceptor; throws std::system_error with a clear message when it cannot.
  void bind();
  /// Serves until SIGTERM/SIGINT or request_stop(), drains, and returns.
  void run();
  /// Starts the drain from any thread (the admin shutdown endpoint uses it).
  void request_stop();
  /// Called on SIGHUP, on the control thread (never an I/O thread); set before run().
  void on_reload(std::function<void()> f);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace evald::net
