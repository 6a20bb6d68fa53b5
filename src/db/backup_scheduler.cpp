#include "db/backup_scheduler.hpp"

#include <algorithm>
#include <ctime>
#include <filesystem>

#include "log/log.hpp"

namespace evald::db {
namespace {

namespace fs = std::filesystem;
constexpr std::string_view kPrefix = "evald-";
constexpr std::string_view kSuffix = ".evbak";
constexpr std::chrono::seconds kPollInterval{30};

bool is_backup_name(const std::string& name) {
  return name.size() > kPrefix.size() + kSuffix.size() && name.rfind(kPrefix, 0) == 0 &&
         name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

// evald-20261128T001530Z.evbak: names sort as their times do.
std::string backup_name(SystemTime t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return std::string(kPrefix) + buf + std::string(kSuffix);
}

// The time a backup's name records.
std::optional<SystemTime> time_of(const std::string& name) {
  std::tm tm{};
  const std::string stamp = name.substr(kPrefix.size(), 16);
  if (!strptime(stamp.c_str(), "%Y%m%dT%H%M%SZ", &tm)) return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::vector<std::string> backup_names(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const auto name = e.path().filename().string();
    if (e.is_regular_file() && is_backup_name(name)) names.push_back(name);
  }
  // Newest first: by the time in the name, then by the "-N" of backups made in one second
  // (plain text order would put "...Z.evbak" after "...Z-1.evbak").
  auto key = [](const std::string& name) {
    const std::string stamp = name.substr(kPrefix.size(), 16);
    const auto rest = name.substr(kPrefix.size() + 16);
    int seq = 0;
    if (rest.size() > 1 && rest[0] == '-') seq = std::atoi(rest.c_str() + 1);
    return std::pair{stamp, seq};
  };
  std::sort(names.begin(), names.end(),
            [&](const std::string& a, const std::string& b) { return key(a) > key(b); });
  return names;
}

}  // namespace

BackupScheduler::BackupScheduler(Database& db, const Clock& clock, std::string dir,
                                 std::chrono::hours interval, unsigned keep,
                                 std::string evald_version)
    : db_(db),
      clock_(clock),
      dir_(std::move(dir)),
      interval_(interval),
      keep_(std::max(1u, keep)),
      version_(std::move(evald_version)) {
  fs::create_directories(dir_);
  // The first backup is due one interval after the newest one on disk, or now if none.
  stats_.next_due = clock_.now();
  const auto names = backup_names(dir_);
  if (!names.empty()) {
    if (auto written = time_of(names.front())) stats_.next_due = *written + interval_;
  }
}

BackupScheduler::~BackupScheduler() { stop(); }

void BackupScheduler::start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      tick();
      lock.lock();
      wake_.wait_for(lock, kPollInterval, [this] { return stop_; });
    }
  });
}

void BackupScheduler::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool BackupScheduler::tick() {
  {
    std::lock_guard lock(mu_);
    if (clock_.now() < stats_.next_due) return false;
  }
  auto r = run_now();
  std::lock_guard lock(mu_);
  stats_.next_due =
      clock_.now() + (r ? std::chrono::duration_cast<SystemTime::duration>(interval_)
                        : std::chrono::duration_cast<SystemTime::duration>(kRetryAfterFailure));
  return true;
}

Result<BackupInfo> BackupScheduler::run_now() {
  std::lock_guard run(run_mu_);
  const auto now = clock_.now();
  std::string name = backup_name(now);
  // Two backups within one second get distinct names.
  for (int i = 1; fs::exists(fs::path(dir_) / name); ++i) {
    name = backup_name(now);
    name.insert(name.size() - kSuffix.size(), "-" + std::to_string(i));
  }
  const auto path = (fs::path(dir_) / name).string();
  auto info = write_backup(db_, path, version_);
  auto lg = log::get("db");
  std::lock_guard lock(mu_);
  if (!info) {
    ++stats_.failures;
    stats_.last_failure = now;
    stats_.last_error = info.error().message;
    lg->error("{}", log::Line("backup failed")
                        .kv("file", name)
                        .kv("error", info.error().message)
                        .kv("detail", info.error().internal_detail));
    return info;
  }
  ++stats_.successes;
  stats_.last_success = now;
  lg->info("{}", log::Line("backup written")
                     .kv("file", name)
                     .kv("rows", info->rows)
                     .kv("bytes", info->size_bytes)
                     .kv("sha256", info->sha256));
  prune();
  return info;
}

void BackupScheduler::prune() {
  const auto names = backup_names(dir_);
  for (std::size_t i = keep_; i < names.size(); ++i) {
    std::error_code ec;
    fs::remove(fs::path(dir_) / names[i], ec);
  }
}

std::vector<BackupFile> BackupScheduler::list() const {
  std::vector<BackupFile> out;
  for (const auto& name : backup_names(dir_)) {
    BackupFile f;
    f.name = name;
    auto info = verify_backup((fs::path(dir_) / name).string());
    if (info) {
      f.verified = true;
      f.sha256 = info->sha256;
      f.size_bytes = info->size_bytes;
      f.file_sha256 = sha256_file((fs::path(dir_) / name).string());
    } else {
      std::error_code ec;
      f.size_bytes = fs::file_size(fs::path(dir_) / name, ec);
      f.problem = info.error().message;
    }
    out.push_back(std::move(f));
  }
  return out;
}

BackupScheduleStats BackupScheduler::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace evald::db
