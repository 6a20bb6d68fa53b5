#pragma once
/// The one thread that writes log output. Every log line reaches stderr through it, whole, so
/// lines never interleave; callers only append to a queue and never wait on the terminal,
/// a pipe or a slow log collector. When more than the bound is pending, lines are dropped and
/// counted rather than blocking an I/O thread.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace evald::log {

class Writer {
 public:
  explicit Writer(int fd, std::size_t max_pending_bytes = 64 << 20);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  /// Queues whole lines (each ending in '\n').
  void submit(std::string&& lines);
  /// Returns once everything submitted so far is written.
  void flush();
  std::uint64_t dropped_bytes() const;

 private:
  void run();

  int fd_;
  std::size_t max_pending_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable drained_;
  std::deque<std::string> queue_;
  std::size_t pending_ = 0;
  std::uint64_t dropped_ = 0;
  std::uint64_t submitted_ = 0, written_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace evald::log
