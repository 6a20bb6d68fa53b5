// Storage benchmark: queries/s from the worker pool, as the HTTP handlers will issue them.
//   db_bench URL [seconds]
// Fills 100,000 companies in 100 projects (once), then measures, with the query cache off and
// on: a lookup by primary key, and a filtered, ordered list of 50 rows.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <random>
#include <thread>

#include "db/database.hpp"
#include "db/migrations.hpp"
#include "net/worker_pool.hpp"

namespace asio = boost::asio;
using namespace evald;

namespace {

constexpr int kProjects = 100;
constexpr int kPerProject = 1000;
constexpr int kConcurrency = 64;  // requests in flight on the I/O thread

std::string project_id(int p) { return "p" + std::to_string(p); }
std::string company_id(int p, int c) { return "c" + std::to_string(p) + "-" + std::to_string(c); }

void fill(db::Database& d) {
  auto have = d.query("SELECT COUNT(*) AS n FROM companies");
  if (have && have->integer(0, "n") == kProjects * kPerProject) return;
  for (int p = 0; p < kProjects; ++p) {
    auto st = d.write([&](db::Tx& tx) -> Status {
      auto r = tx.exec(
          "INSERT INTO projects (id, name, status, created_at, updated_at) VALUES ($1, $2, "
          "'active', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
          {project_id(p), "Project " + std::to_string(p)});
      if (!r) return std::move(r).error();
      for (int c = 0; c < kPerProject; ++c) {
        auto ins = tx.exec(
            "INSERT INTO companies (id, project_id, name, registration_number, address, "
            "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, '2026-01-01T00:00:00.000Z', "
            "'2026-01-01T00:00:00.000Z')",
            {company_id(p, c), project_id(p), "회사 " + std::to_string(c * 7919 % kPerProject),
             std::to_string(1000000 + c), std::string("서울특별시 중구")});
        if (!ins) return std::move(ins).error();
      }
      return Ok{};
    });
    if (!st) {
      std::fprintf(stderr, "fill failed: %s\n", st.error().internal_detail.c_str());
      std::exit(1);
    }
  }
}

// Runs `query(i)` from kConcurrency coroutines through the worker pool for `seconds`.
template <class F>
double measure(net::WorkerPool& pool, double seconds, F query) {
  asio::io_context ioc(1);
  std::atomic<long> done{0};
  std::atomic<long> errors{0};
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (int w = 0; w < kConcurrency; ++w) {
    asio::co_spawn(
        ioc,
        [&, w]() -> asio::awaitable<void> {
          std::mt19937 rng(w);
          while (std::chrono::steady_clock::now() < until) {
            const unsigned r = rng();
            const bool ok = co_await pool.run([&, r] { return query(r); });
            (ok ? done : errors)++;
          }
        },
        asio::detached);
  }
  const auto start = std::chrono::steady_clock::now();
  ioc.run();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (errors) std::fprintf(stderr, "%ld queries failed\n", errors.load());
  return static_cast<double>(done) / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: db_bench URL [seconds]\n");
    return 2;
  }
  const double seconds = argc > 2 ? std::atof(argv[2]) : 5.0;
  RealClock clock;
  db::DatabaseOptions o;
  o.url = argv[1];
  o.readers = 8;
  o.min_pool_size = 8;
  o.max_pool_size = 16;
  o.query_cache_max_entries = 200'000;
  auto d = db::open_database(o, clock);
  if (auto m = db::migrate(*d); !m) {
    std::fprintf(stderr, "migrate failed: %s\n", m.error().internal_detail.c_str());
    return 1;
  }
  fill(*d);
  net::WorkerPool pool(8);

  const std::string by_id =
      "SELECT id, project_id, name, registration_number, address FROM companies WHERE id = $1";
  const std::string list =
      "SELECT id, name, registration_number FROM companies WHERE project_id = $1 ORDER BY name "
      "LIMIT 50";
  const std::vector<std::string> tables{"companies"};
  auto pk = [&](bool cached) {
    return [&, cached](unsigned r) {
      db::Params p{
          company_id(static_cast<int>(r % kProjects), static_cast<int>(r / 7 % kPerProject))};
      auto rows = cached ? d->cached_query(by_id, p, tables) : d->query(by_id, p);
      return rows.ok() && rows->size() == 1;
    };
  };
  auto filtered = [&](bool cached) {
    return [&, cached](unsigned r) {
      db::Params p{project_id(static_cast<int>(r % kProjects))};
      auto rows = cached ? d->cached_query(list, p, tables) : d->query(list, p);
      return rows.ok() && rows->size() == 50;
    };
  };
  const char* engine = std::string(argv[1]).rfind("sqlite", 0) == 0 ? "sqlite" : "postgresql";
  std::printf("DB %s pk_lookup nocache %.0f\n", engine, measure(pool, seconds, pk(false)));
  std::printf("DB %s pk_lookup cache %.0f\n", engine, measure(pool, seconds, pk(true)));
  std::printf("DB %s list50 nocache %.0f\n", engine, measure(pool, seconds, filtered(false)));
  std::printf("DB %s list50 cache %.0f\n", engine, measure(pool, seconds, filtered(true)));
  return 0;
}
