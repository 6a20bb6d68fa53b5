#include "log/writer.hpp"

#include <unistd.h>

#include <cerrno>

namespace evald::log {

Writer::Writer(int fd, std::size_t max_pending_bytes)
    : fd_(fd), max_pending_(max_pending_bytes), thread_([this] { run(); }) {}

Writer::~Writer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void Writer::submit(std::string&& lines) {
  if (lines.empty()) return;
  bool was_empty;
  {
    std::lock_guard lock(mu_);
    if (pending_ + lines.size() > max_pending_) {
      dropped_ += lines.size();
      return;
    }
    was_empty = queue_.empty();
    pending_ += lines.size();
    ++submitted_;
    queue_.push_back(std::move(lines));
  }
  if (was_empty) wake_.notify_one();
}

void Writer::flush() {
  std::unique_lock lock(mu_);
  const auto target = submitted_;
  drained_.wait(lock, [&] { return written_ >= target || stop_; });
}

std::uint64_t Writer::dropped_bytes() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

void Writer::run() {
  std::deque<std::string> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty() && stop_) return;
      batch.swap(queue_);
    }
    std::size_t bytes = 0;
    for (const auto& chunk : batch) {
      bytes += chunk.size();
      std::size_t off = 0;
      while (off < chunk.size()) {
        const ssize_t n = ::write(fd_, chunk.data() + off, chunk.size() - off);
        if (n < 0) {
          if (errno == EINTR) continue;
          break;  // nowhere to report a failing stderr; the lines are lost
        }
        off += static_cast<std::size_t>(n);
      }
    }
    {
      std::lock_guard lock(mu_);
      pending_ -= bytes;
      written_ += batch.size();
    }
    drained_.notify_all();
    batch.clear();
  }
}

}  // namespace evald::log
