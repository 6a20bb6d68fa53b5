#pragma once
/// Scheduled backups: every interval a verified backup into a directory, keeping the newest N.
/// The loop's decision is tick(), driven by the injected clock, so it is tested without waiting.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "db/backup.hpp"

namespace evald::db {

struct BackupFile {
  std::string name;
  std::uint64_t size_bytes = 0;
  std::string sha256;       ///< the checksum in the end line; empty when verification failed
  std::string file_sha256;  ///< of the whole file (what sha256sum prints); empty when unverified
  bool verified = false;
  std::string problem;  ///< why verification failed
};

struct BackupScheduleStats {
  std::uint64_t successes = 0;
  std::uint64_t failures = 0;
  std::optional<SystemTime> last_success;
  std::optional<SystemTime> last_failure;
  std::string last_error;
  SystemTime next_due{};
};

class BackupScheduler {
 public:
  BackupScheduler(Database& db, const Clock& clock, std::string dir, std::chrono::hours interval,
                  unsigned keep, std::string evald_version);
  ~BackupScheduler();
  BackupScheduler(const BackupScheduler&) = delete;
  BackupScheduler& operator=(const BackupScheduler&) = delete;

  /// Starts the background thread that calls tick().
  void start();
  void stop();

  /// Runs a backup if one is due; true when it ran one (successfully or not).
  bool tick();
  /// Writes, verifies and prunes now (the admin endpoint and tick() use it).
  Result<BackupInfo> run_now();
  /// The backups in the directory, newest first, each verified.
  std::vector<BackupFile> list() const;
  BackupScheduleStats stats() const;

  static constexpr std::chrono::minutes kRetryAfterFailure{10};

 private:
  void prune();

  Database& db_;
  const Clock& clock_;
  std::string dir_;
  std::chrono::hours interval_;
  unsigned keep_;
  std::string version_;
  mutable std::mutex mu_;
  std::mutex run_mu_;  // one backup at a time
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
  BackupScheduleStats stats_;
};

}  // namespace evald::db
