#include <algorithm>

#include "core/ids.hpp"
#include "core/time_format.hpp"
#include "log/log.hpp"
#include "mail/mail.hpp"

namespace evald::mail {

Status enqueue(db::Tx& tx, const Mail& m, std::string_view now) {
  auto r = tx.exec(
      "INSERT INTO mail_outbox (id, to_address, subject, body_text, body_html, status, attempts, "
      "next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)",
      {new_uuid(), m.to, m.subject, m.text, m.html, std::string(now)});
  if (!r) return std::move(r).error();
  return Ok{};
}

OutboxSender::OutboxSender(db::Database& db, Mailer& mailer, const Clock& clock,
                           std::chrono::milliseconds retry_base, unsigned max_attempts)
    : db_(db),
      mailer_(mailer),
      clock_(clock),
      retry_base_(retry_base),
      max_attempts_(max_attempts) {}

OutboxSender::~OutboxSender() { stop(); }

void OutboxSender::start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      const std::size_t attempted = tick();
      lock.lock();
      if (attempted == 0 && !poked_) {
        // Due retries are found by polling; new mail wakes the loop at once.
        wake_.wait_for(lock, std::min(retry_base_, std::chrono::milliseconds(1000)),
                       [this] { return stop_ || poked_; });
      }
      poked_ = false;
    }
  });
}

void OutboxSender::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void OutboxSender::poke() {
  {
    std::lock_guard lock(mu_);
    poked_ = true;
  }
  wake_.notify_all();
}

std::chrono::milliseconds OutboxSender::backoff(unsigned attempts) const {
  const auto factor = 1ll << std::min(attempts, 16u);
  return std::min<std::chrono::milliseconds>(retry_base_ * factor, kMaxBackoff);
}

std::size_t OutboxSender::tick() {
  auto lg = log::get("mail");
  const auto now_tp = clock_.now();
  const std::string now = format_iso8601(now_tp, true);
  auto due = db_.query(
      "SELECT id, to_address, subject, body_text, body_html, attempts, next_attempt_at "
      "FROM mail_outbox WHERE status = 'pending' AND next_attempt_at <= $1 "
      "ORDER BY next_attempt_at LIMIT 20",
      {now});
  if (!due) {
    lg->warn("{}", log::Line("outbox unavailable").kv("error", due.error().internal_detail));
    return 0;
  }
  std::size_t attempted = 0;
  for (std::size_t i = 0; i < due->size(); ++i) {
    const std::string id = due->text(i, "id");
    const auto attempts = static_cast<unsigned>(due->integer(i, "attempts"));
    // Claim it: only the instance whose update lands sends it (another may be polling too).
    auto claimed = db_.write([&](db::Tx& tx) -> Status {
      auto r = tx.exec(
          "UPDATE mail_outbox SET next_attempt_at = $1 WHERE id = $2 AND status = 'pending' "
          "AND next_attempt_at = $3",
          {format_iso8601(now_tp + kClaimLease, true), id, due->text(i, "next_attempt_at")});
      if (!r) return std::move(r).error();
      if (*r != 1) return ApiError::not_found();
      return Ok{};
    });
    if (!claimed) continue;
    ++attempted;
    Mail m{due->text(i, "to_address"), due->text(i, "subject"), due->text(i, "body_text"),
           due->text(i, "body_html")};
    auto sent = mailer_.send(m);
    const std::string after = format_iso8601(clock_.now(), true);
    if (sent) {
      db_.write([&](db::Tx& tx) -> Status {
        auto r = tx.exec(
            "UPDATE mail_outbox SET status = 'sent', sent_at = $1, attempts = $2, "
            "last_error = NULL WHERE id = $3",
            {after, std::int64_t{attempts + 1}, id});
        if (!r) return std::move(r).error();
        return Ok{};
      });
      std::lock_guard lock(mu_);
      ++stats_.sent;
      continue;
    }
    const bool give_up = attempts + 1 >= max_attempts_;
    db_.write([&](db::Tx& tx) -> Status {
      auto r = tx.exec(
          "UPDATE mail_outbox SET status = $1, attempts = $2, last_error = $3, "
          "next_attempt_at = $4 WHERE id = $5",
          {std::string(give_up ? "failed" : "pending"), std::int64_t{attempts + 1},
           sent.error().internal_detail, format_iso8601(clock_.now() + backoff(attempts), true),
           id});
      if (!r) return std::move(r).error();
      return Ok{};
    });
    lg->warn("{}", log::Line(give_up ? "mail given up" : "mail delivery failed; will retry")
                       .kv("mail_id", id)
                       .kv("attempts", attempts + 1)
                       .kv("error", sent.error().internal_detail));
    std::lock_guard lock(mu_);
    ++stats_.failed_attempts;
    if (give_up) ++stats_.gave_up;
  }
  return attempted;
}

OutboxStats OutboxSender::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace evald::mail
