#pragma once
/// Process and system figures read from /proc, without blocking or sampling windows: CPU use is
/// a difference between two readings taken by the caller.

#include <cstdint>
#include <string>

namespace evald::metrics {

struct ProcessSample {
  double cpu_seconds = 0;  ///< user + system since start
  std::uint64_t resident_bytes = 0;
  std::uint64_t virtual_bytes = 0;
  std::uint64_t open_fds = 0;
  std::uint64_t max_fds = 0;
  double start_time_seconds = 0;  ///< since the epoch
  unsigned threads = 0;
};
ProcessSample sample_process();

struct SystemSample {
  double load1 = 0, load5 = 0, load15 = 0;
  std::uint64_t memory_total_bytes = 0;
  std::uint64_t memory_available_bytes = 0;
  std::uint64_t cpu_busy_ticks = 0;  ///< all CPUs, since boot
  std::uint64_t cpu_total_ticks = 0;
  unsigned cpus = 0;
};
SystemSample sample_system();

/// Percent of all CPUs busy between two samples (0 when they are the same).
double cpu_percent(const SystemSample& before, const SystemSample& after);

struct DiskSample {
  bool ok = false;
  std::uint64_t total_bytes = 0;
  std::uint64_t free_bytes = 0;  ///< available to this process
};
DiskSample sample_disk(const std::string& path);

}  // namespace evald::metrics
