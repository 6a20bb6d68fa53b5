#pragma once
/// The metrics of one evald process: prometheus-cpp's registry for the counters parts of evald
/// increment, the request metrics kept in shards, and collectors that read gauges from their
/// sources (pools, limiter, outbox) when Prometheus scrapes. render() is the text exposition.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "metrics/http_metrics.hpp"

namespace evald::metrics {

using Collector = std::function<void(std::vector<prometheus::MetricFamily>&)>;

class Metrics {
 public:
  Metrics();

  HttpMetrics& http() { return http_; }
  const HttpMetrics& http() const { return http_; }
  prometheus::Registry& registry() { return *registry_; }
  /// Called at each scrape; may append families. Register before serving.
  void add_collector(Collector c);
  /// The text exposition format (version 0.0.4).
  std::string render() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  HttpMetrics http_;
  std::vector<Collector> collectors_;
};

/// Helpers for collectors.
prometheus::MetricFamily family(std::string name, std::string help, prometheus::MetricType type);
void sample(prometheus::MetricFamily& f, double value,
            std::vector<prometheus::ClientMetric::Label> labels = {});

/// process_* from /proc.
void collect_process(std::vector<prometheus::MetricFamily>& out);

}  // namespace evald::metrics
