#pragma once
/// The error log: every 5xx and every 401/403/423/429, stored in the error_log table with what
/// an operator needs (code, category, severity, status, request id, user, method, route,
/// client IP, user agent, time) and never a header, body, token or password. Requests hand
/// entries to a bounded queue and go on; one thread writes them in batches and prunes old rows,
/// so an error storm can neither slow the server nor fill the disk.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "core/clock.hpp"
#include "db/database.hpp"

namespace evald::monitoring {

struct ErrorEntry {
  std::string error_code;
  std::string category;
  std::string severity;
  unsigned status = 0;
  std::string request_id;
  std::string user_id;
  std::string method;
  std::string route;
  std::string client_ip;
  std::string user_agent;
  std::string created_at;  ///< ISO 8601 UTC, milliseconds
};

/// Whether a response of this status belongs in the error log.
bool logged_status(unsigned status);

struct ErrorLogOptions {
  std::size_t capacity = 10'000;  ///< entries waiting at most; more are dropped (and counted)
  std::size_t batch = 500;
  std::chrono::milliseconds flush_interval{1'000};
  unsigned retention_days = 30;
  std::chrono::milliseconds prune_interval{3'600'000};
};

class ErrorLogWriter {
 public:
  ErrorLogWriter(db::Database& db, const Clock& clock, ErrorLogOptions options);
  ~ErrorLogWriter();
  ErrorLogWriter(const ErrorLogWriter&) = delete;
  ErrorLogWriter& operator=(const ErrorLogWriter&) = delete;

  /// Never blocks on the database; drops the entry when the queue is full.
  void record(ErrorEntry e);
  void start();
  /// Writes what is queued, then stops.
  void stop();
  /// Writes what is queued now (the caller's thread); returns rows written.
  std::size_t flush();
  /// Deletes rows older than the retention; returns how many.
  std::size_t prune();

  std::uint64_t written() const { return written_.load(); }
  std::uint64_t dropped() const { return dropped_.load(); }
  std::uint64_t failed() const { return failed_.load(); }
  std::size_t queued() const;

 private:
  void run();

  db::Database& db_;
  const Clock& clock_;
  ErrorLogOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ErrorEntry> queue_;
  bool stopping_ = false;
  std::thread thread_;
  std::mutex write_mu_;  // one flush at a time
  std::atomic<std::uint64_t> written_{0}, dropped_{0}, failed_{0};
};

}  // namespace evald::monitoring
