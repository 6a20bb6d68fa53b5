#include "metrics/registry.hpp"

#include <prometheus/text_serializer.h>

#include <sstream>

#include "metrics/process.hpp"

namespace evald::metrics {

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {}

void Metrics::add_collector(Collector c) { collectors_.push_back(std::move(c)); }

std::string Metrics::render() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  http_.collect(families);
  collect_process(families);
  for (const auto& c : collectors_) c(families);
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

prometheus::MetricFamily family(std::string name, std::string help, prometheus::MetricType type) {
  return prometheus::MetricFamily{std::move(name), std::move(help), type, {}};
}

void sample(prometheus::MetricFamily& f, double value,
            std::vector<prometheus::ClientMetric::Label> labels) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  if (f.type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else if (f.type == prometheus::MetricType::Gauge) {
    m.gauge.value = value;
  } else {
    m.untyped.value = value;
  }
  f.metric.push_back(std::move(m));
}

void collect_process(std::vector<prometheus::MetricFamily>& out) {
  const auto p = sample_process();
  using prometheus::MetricType;
  auto add = [&](const char* name, const char* help, MetricType type, double v) {
    auto f = family(name, help, type);
    sample(f, v);
    out.push_back(std::move(f));
  };
  add("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
      MetricType::Counter, p.cpu_seconds);
  add("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge,
      static_cast<double>(p.resident_bytes));
  add("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge,
      static_cast<double>(p.virtual_bytes));
  add("process_open_fds", "Number of open file descriptors.", MetricType::Gauge,
      static_cast<double>(p.open_fds));
  add("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
      static_cast<double>(p.max_fds));
  add("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
      MetricType::Gauge, p.start_time_seconds);
  add("process_threads", "Number of OS threads in the process.", MetricType::Gauge,
      static_cast<double>(p.threads));
}

}  // namespace evald::metrics
