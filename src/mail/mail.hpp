#pragma once
/// Outgoing mail: written to the outbox table in the transaction that decides to send it, then
/// delivered by a background sender over SMTP (libcurl) with retries and backoff, so that mail
/// never blocks a request, survives a restart, and waits while the mail server is down.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "config/settings.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"

namespace evald::mail {

struct Mail {
  std::string to;
  std::string subject;
  std::string text;
  std::string html;
};

/// Queues a mail inside the caller's transaction.
Status enqueue(db::Tx& tx, const Mail& mail, std::string_view now);

class Mailer {
 public:
  virtual ~Mailer() = default;
  /// Delivers one mail; an error's internal detail says why (never a credential).
  virtual Status send(const Mail& mail) = 0;
};

/// SMTP through libcurl: SMTP_TLS starttls (required), tls (implicit) or none; login when
/// SMTP_USERNAME is set.
std::unique_ptr<Mailer> make_smtp_mailer(const MailSettings& settings);

struct OutboxStats {
  std::uint64_t sent = 0;
  std::uint64_t failed_attempts = 0;
  std::uint64_t gave_up = 0;
};

class OutboxSender {
 public:
  OutboxSender(db::Database& db, Mailer& mailer, const Clock& clock,
               std::chrono::milliseconds retry_base, unsigned max_attempts);
  ~OutboxSender();

  void start();
  void stop();
  /// Sends what is due now; returns how many were attempted. The loop calls it; tests too.
  std::size_t tick();
  /// Wakes the loop (after a mail was queued).
  void poke();
  OutboxStats stats() const;

  /// Another instance's claim on a mail lasts this long before it may be retried.
  static constexpr std::chrono::seconds kClaimLease{60};
  static constexpr std::chrono::minutes kMaxBackoff{10};

 private:
  std::chrono::milliseconds backoff(unsigned attempts) const;

  db::Database& db_;
  Mailer& mailer_;
  const Clock& clock_;
  std::chrono::milliseconds retry_base_;
  unsigned max_attempts_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool poked_ = false;
  std::thread thread_;
  OutboxStats stats_;
};

}  // namespace evald::mail
