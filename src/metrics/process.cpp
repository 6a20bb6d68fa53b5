#include "metrics/process.hpp"

#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace evald::metrics {
namespace {

std::string read_file(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

ProcessSample sample_process() {
  ProcessSample s;
  const long ticks = sysconf(_SC_CLK_TCK);
  const long page = sysconf(_SC_PAGESIZE);
  // /proc/self/stat: fields after the command name, which is in parentheses.
  const std::string stat = read_file("/proc/self/stat");
  if (auto close = stat.rfind(')'); close != std::string::npos) {
    std::istringstream in(stat.substr(close + 2));
    std::string field;
    std::vector<std::string> f;
    while (in >> field) f.push_back(field);
    // f[0] is field 3 (state): utime 14, stime 15, threads 20, starttime 22, vsize 23, rss 24.
    if (f.size() > 21) {
      s.cpu_seconds =
          static_cast<double>(std::stoull(f[11]) + std::stoull(f[12])) / static_cast<double>(ticks);
      s.threads = static_cast<unsigned>(std::stoul(f[17]));
      const double boot_ticks = static_cast<double>(std::stoull(f[19]));
      s.virtual_bytes = std::stoull(f[20]);
      s.resident_bytes = std::stoull(f[21]) * static_cast<std::uint64_t>(page);
      // Boot time from /proc/stat's btime.
      std::istringstream st(read_file("/proc/stat"));
      std::string line;
      while (std::getline(st, line)) {
        if (line.rfind("btime ", 0) == 0) {
          s.start_time_seconds =
              std::stod(line.substr(6)) + boot_ticks / static_cast<double>(ticks);
          break;
        }
      }
    }
  }
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++s.open_fds;
  }
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0) s.max_fds = lim.rlim_cur;
  return s;
}

SystemSample sample_system() {
  SystemSample s;
  std::istringstream load(read_file("/proc/loadavg"));
  load >> s.load1 >> s.load5 >> s.load15;
  std::istringstream mem(read_file("/proc/meminfo"));
  std::string key;
  std::uint64_t value = 0;
  std::string unit;
  while (mem >> key >> value) {
    std::getline(mem, unit);
    if (key == "MemTotal:") s.memory_total_bytes = value * 1024;
    if (key == "MemAvailable:") s.memory_available_bytes = value * 1024;
  }
  std::istringstream stat(read_file("/proc/stat"));
  std::string line;
  while (std::getline(stat, line)) {
    if (line.rfind("cpu ", 0) == 0) {
      std::istringstream f(line.substr(4));
      std::uint64_t v = 0;
      std::uint64_t i = 0;
      while (f >> v) {
        s.cpu_total_ticks += v;
        if (i != 3 && i != 4) s.cpu_busy_ticks += v;  // idle and iowait are not busy
        ++i;
      }
    } else if (line.rfind("cpu", 0) == 0) {
      ++s.cpus;
    }
  }
  return s;
}

double cpu_percent(const SystemSample& before, const SystemSample& after) {
  if (after.cpu_total_ticks <= before.cpu_total_ticks) return 0;
  const double total = static_cast<double>(after.cpu_total_ticks - before.cpu_total_ticks);
  const double busy = static_cast<double>(after.cpu_busy_ticks - before.cpu_busy_ticks);
  return 100.0 * busy / total;
}

DiskSample sample_disk(const std::string& path) {
  DiskSample d;
  struct statvfs v {};
  if (statvfs(path.c_str(), &v) != 0) return d;
  d.ok = true;
  d.total_bytes = static_cast<std::uint64_t>(v.f_blocks) * v.f_frsize;
  d.free_bytes = static_cast<std::uint64_t>(v.f_bavail) * v.f_frsize;
  return d;
}

}  // namespace evald::metrics
