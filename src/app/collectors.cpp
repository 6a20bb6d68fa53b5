// The gauges and counters Prometheus reads from evald's parts at each scrape.

#include <limits>

#include "app/app_context.hpp"
#include "metrics/registry.hpp"
#include "net/server.hpp"

namespace evald {
namespace {

using metrics::family;
using metrics::sample;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Label = prometheus::ClientMetric::Label;

void collect_database(AppContext& app, std::vector<MetricFamily>& out) {
  auto& db = *app.db;
  const auto lat = db.monitor().latency();
  auto h = family("evald_db_query_duration_seconds", "Database statement durations",
                  MetricType::Histogram);
  prometheus::ClientMetric m;
  m.label = {{"engine", std::string(db::to_string(db.engine()))}};
  m.histogram.sample_count = lat.count;
  m.histogram.sample_sum = lat.sum_seconds;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < db::kQueryBuckets.size(); ++i) {
    cumulative += lat.buckets[i];
    m.histogram.bucket.push_back({cumulative, db::kQueryBuckets[i]});
  }
  cumulative += lat.buckets.back();
  m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
  h.metric.push_back(std::move(m));
  out.push_back(std::move(h));

  auto counter = [&](const char* name, const char* help, double v) {
    auto f = family(name, help, MetricType::Counter);
    sample(f, v);
    out.push_back(std::move(f));
  };
  auto gauge = [&](const char* name, const char* help, double v) {
    auto f = family(name, help, MetricType::Gauge);
    sample(f, v);
    out.push_back(std::move(f));
  };
  counter("evald_db_query_failures_total", "Database statements that failed",
          static_cast<double>(db.monitor().total_failures()));
  counter("evald_db_slow_queries_total", "Statements slower than SLOW_QUERY_MS",
          static_cast<double>(db.monitor().total_slow()));

  const auto pool = db.pool_stats();
  auto conns =
      family("evald_db_pool_connections", "Database connections by state", MetricType::Gauge);
  sample(conns, static_cast<double>(pool.in_use), {{"state", "in_use"}});
  sample(conns, static_cast<double>(pool.idle), {{"state", "idle"}});
  out.push_back(std::move(conns));
  gauge("evald_db_pool_max_connections", "The pool's bound", static_cast<double>(pool.max));
  counter("evald_db_pool_waits_total", "Acquisitions that waited for a connection",
          static_cast<double>(pool.waits));
  counter("evald_db_pool_timeouts_total", "Acquisitions that gave up (503)",
          static_cast<double>(pool.timeouts));

  const auto cache = db.cache().stats();
  counter("evald_cache_hits_total", "Query cache hits", static_cast<double>(cache.hits));
  counter("evald_cache_misses_total", "Query cache misses", static_cast<double>(cache.misses));
  counter("evald_cache_invalidations_total", "Cached results made stale by writes",
          static_cast<double>(cache.invalidations));
  counter("evald_cache_evictions_total", "Cached results pushed out by the size bound",
          static_cast<double>(cache.evictions));
  gauge("evald_cache_entries", "Cached results held", static_cast<double>(cache.entries));

  // The outbox's depth; this runs on a worker thread (the scrape handler's).
  auto pending = db.query("SELECT COUNT(*) AS n FROM mail_outbox WHERE status = 'pending'", {});
  if (pending && !pending->rows.empty()) {
    gauge("evald_mail_outbox_pending", "Mails waiting to be sent",
          static_cast<double>(pending->integer(0, "n")));
  }
}

void collect_rate_limits(AppContext& app, std::vector<MetricFamily>& out) {
  const auto s = app.limiter->stats();
  auto decisions =
      family("rate_limit_decisions_total", "Rate-limit verdicts per rule", MetricType::Counter);
  auto penalties = family("rate_limit_penalties_total", "Keys put in the penalty box per rule",
                          MetricType::Counter);
  for (const auto& [rule, rs] : s.rules) {
    sample(decisions, static_cast<double>(rs.allowed), {{"rule", rule}, {"outcome", "allowed"}});
    sample(decisions, static_cast<double>(rs.refused), {{"rule", rule}, {"outcome", "refused"}});
    sample(decisions, static_cast<double>(rs.shadow_refused),
           {{"rule", rule}, {"outcome", "shadow_refused"}});
    sample(penalties, static_cast<double>(rs.penalties), {{"rule", rule}});
  }
  out.push_back(std::move(decisions));
  out.push_back(std::move(penalties));
  auto mode = family("rate_limit_store_mode",
                     "1 for the store deciding now: local, redis, or fallback (Redis down)",
                     MetricType::Gauge);
  for (auto m : {ratelimit::StoreMode::kLocal, ratelimit::StoreMode::kRedis,
                 ratelimit::StoreMode::kFallback}) {
    sample(mode, s.mode == m ? 1 : 0, {{"store", std::string(ratelimit::to_string(m))}});
  }
  out.push_back(std::move(mode));
  auto active =
      family("rate_limit_penalties_active", "Keys in the penalty box now", MetricType::Gauge);
  sample(active, static_cast<double>(s.penalties_active));
  out.push_back(std::move(active));
  auto bypass = family("rate_limit_bypassed_total", "Requests that skipped limiting (bypass token)",
                       MetricType::Counter);
  sample(bypass, static_cast<double>(s.bypassed));
  out.push_back(std::move(bypass));
  if (s.redis) {
    auto trips =
        family("rate_limit_redis_trips_total",
               "Times Redis failed and the limiter fell back to in-process", MetricType::Counter);
    sample(trips, static_cast<double>(s.redis->trips));
    out.push_back(std::move(trips));
  }
}

void collect_auth(AppContext& app, std::vector<MetricFamily>& out) {
  auto f = family("evald_auth_logins_total", "Sign-in attempts by outcome", MetricType::Counter);
  for (auto o :
       {auth::LoginOutcome::kSuccess, auth::LoginOutcome::kFailure, auth::LoginOutcome::kLocked,
        auth::LoginOutcome::kMfaRequired, auth::LoginOutcome::kMfaFailure}) {
    sample(f, static_cast<double>(app.auth->login_outcomes(o)),
           {{"outcome", std::string(auth::to_string(o))}});
  }
  out.push_back(std::move(f));
}

void collect_connections(const net::ServerState& st, std::vector<MetricFamily>& out) {
  auto open = family("evald_connections_open", "Client connections open now", MetricType::Gauge);
  sample(open, static_cast<double>(st.open_connections.load(std::memory_order_relaxed)));
  out.push_back(std::move(open));
  auto closed = family("evald_connections_closed_early_total",
                       "Client connections closed by evald before any request: refused at "
                       "MAX_CONNECTIONS with none idle, displaced (idle the longest, closed to "
                       "let a new client in), or a failed TLS handshake",
                       MetricType::Counter);
  sample(closed, static_cast<double>(st.refused_connections.load(std::memory_order_relaxed)),
         {{"reason", "refused"}});
  sample(closed, static_cast<double>(st.displaced_connections.load(std::memory_order_relaxed)),
         {{"reason", "displaced"}});
  sample(closed, static_cast<double>(st.tls_handshake_failures.load(std::memory_order_relaxed)),
         {{"reason", "tls_handshake_failed"}});
  out.push_back(std::move(closed));
}

}  // namespace

void register_collectors(AppContext& app) {
  auto& m = *app.metrics;
  m.add_collector([](std::vector<MetricFamily>& out) {
    auto f = family("evald_build_info", "The running build", MetricType::Gauge);
    sample(f, 1, {{"version", build_info().version}, {"commit", build_info().commit}});
    out.push_back(std::move(f));
  });
  m.add_collector([&app](std::vector<MetricFamily>& out) { collect_database(app, out); });
  m.add_collector([&app](std::vector<MetricFamily>& out) { collect_rate_limits(app, out); });
  m.add_collector([&app](std::vector<MetricFamily>& out) { collect_auth(app, out); });
  m.add_collector([&app](std::vector<MetricFamily>& out) {
    if (app.server_state) collect_connections(*app.server_state, out);
  });
  m.add_collector([&app](std::vector<MetricFamily>& out) {
    if (!app.backups) return;
    const auto s = app.backups->stats();
    auto runs = family("evald_backups_total", "Backups written (scheduled and from the API)",
                       MetricType::Counter);
    sample(runs, static_cast<double>(s.successes), {{"outcome", "success"}});
    sample(runs, static_cast<double>(s.failures), {{"outcome", "failure"}});
    out.push_back(std::move(runs));
    auto last = family("evald_backup_last_success_timestamp_seconds",
                       "When the last backup succeeded (0: never)", MetricType::Gauge);
    sample(last, s.last_success
                     ? std::chrono::duration<double>(s.last_success->time_since_epoch()).count()
                     : 0.0);
    out.push_back(std::move(last));
  });
  m.add_collector([&app](std::vector<MetricFamily>& out) {
    auto f = family("evald_error_log_entries_total",
                    "Error log entries by fate: written, dropped (queue full), failed (database)",
                    MetricType::Counter);
    sample(f, static_cast<double>(app.error_log->written()), {{"fate", "written"}});
    sample(f, static_cast<double>(app.error_log->dropped()), {{"fate", "dropped"}});
    sample(f, static_cast<double>(app.error_log->failed()), {{"fate", "failed"}});
    out.push_back(std::move(f));
  });
}

}  // namespace evald
