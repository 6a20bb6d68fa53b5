#include "monitoring/error_log.hpp"

#include "core/ids.hpp"
#include "core/time_format.hpp"
#include "log/log.hpp"

namespace evald::monitoring {

bool logged_status(unsigned status) {
  return status >= 500 || status == 401 || status == 403 || status == 423 || status == 429;
}

ErrorLogWriter::ErrorLogWriter(db::Database& db, const Clock& clock, ErrorLogOptions options)
    : db_(db), clock_(clock), options_(options) {}

ErrorLogWriter::~ErrorLogWriter() { stop(); }

void ErrorLogWriter::record(ErrorEntry e) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= options_.capacity) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    queue_.push_back(std::move(e));
    if (queue_.size() < options_.batch) return;
  }
  cv_.notify_one();
}

std::size_t ErrorLogWriter::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::size_t ErrorLogWriter::flush() {
  std::lock_guard writing(write_mu_);
  std::size_t total = 0;
  for (;;) {
    std::vector<ErrorEntry> batch;
    {
      std::lock_guard lock(mu_);
      while (!queue_.empty() && batch.size() < options_.batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (batch.empty()) return total;
    std::vector<db::Params> rows;
    rows.reserve(batch.size());
    for (auto& e : batch) {
      auto text = [](std::string& s) -> db::Value {
        return s.empty() ? db::Value{} : db::Value{std::move(s)};
      };
      rows.push_back({new_uuid(), e.error_code, e.category, e.severity,
                      static_cast<std::int64_t>(e.status), text(e.request_id), text(e.user_id),
                      text(e.method), text(e.route), text(e.client_ip), text(e.user_agent),
                      e.created_at});
    }
    auto st = db_.write([&](db::Tx& tx) {
      return tx.exec_many(
          "INSERT INTO error_log (id, error_code, category, severity, status, request_id, "
          "user_id, method, route, client_ip, user_agent, created_at) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
          rows);
    });
    if (!st) {
      // The database is down or full: these entries are lost (counted), the server goes on.
      failed_.fetch_add(batch.size(), std::memory_order_relaxed);
      log::get("health")->warn("{}",
                               log::Line("error log entries could not be written")
                                   .kv("entries", static_cast<unsigned long long>(batch.size()))
                                   .kv("error", st.error().message));
      return total;
    }
    written_.fetch_add(batch.size(), std::memory_order_relaxed);
    total += batch.size();
  }
}

std::size_t ErrorLogWriter::prune() {
  const auto cutoff =
      format_iso8601(clock_.now() - std::chrono::hours(24) * options_.retention_days, true);
  std::size_t removed = 0;
  auto st = db_.write([&](db::Tx& tx) -> Status {
    auto r = tx.query("DELETE FROM error_log WHERE created_at < $1", {cutoff});
    if (!r) return std::move(r).error();
    removed = static_cast<std::size_t>(r->affected);
    return Ok{};
  });
  if (!st) return 0;
  return removed;
}

void ErrorLogWriter::start() {
  thread_ = std::thread([this] { run(); });
}

void ErrorLogWriter::run() {
  auto next_prune = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, options_.flush_interval,
                 [&] { return stopping_ || queue_.size() >= options_.batch; });
    lock.unlock();
    flush();
    if (std::chrono::steady_clock::now() >= next_prune) {
      if (auto n = prune(); n > 0) {
        log::get("health")->info("{}", log::Line("error log pruned")
                                           .kv("rows", static_cast<unsigned long long>(n))
                                           .kv("retention_days", options_.retention_days));
      }
      next_prune = std::chrono::steady_clock::now() + options_.prune_interval;
    }
    lock.lock();
  }
}

void ErrorLogWriter::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  flush();
}

}  // namespace evald::monitoring
