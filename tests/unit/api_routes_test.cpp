// The route tables of an application on a scratch SQLite file: regressions the fuzz targets
// found in how the tables are built (docs/TESTING.md, "Fuzzing").

#include <gtest/gtest.h>
#include <malloc.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <memory>

#include "api/routes.hpp"
#include "app/app_context.hpp"
#include "core/ids.hpp"
#include "core/time_format.hpp"
#include "db/migrations.hpp"

namespace evald {
namespace {

namespace fs = std::filesystem;

class ApiRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    unsigned char b[8];
    secure_random(b, sizeof b);
    dir_ = fs::temp_directory_path() / ("evald-api-routes-" + to_hex(b, sizeof b));
    fs::create_directories(dir_);
    ConfigSources sources;
    sources.flags = {{"ENVIRONMENT", "test"},
                     {"DATABASE_URL", "sqlite://" + (dir_ / "evald.db").string()},
                     {"DATA_DIR", (dir_ / "data").string()},
                     {"JWT_SECRET", "api-routes-test-secret-0123456789abcdef"},
                     {"WORKER_THREADS", "2"},
                     {"THREADS", "1"},
                     {"ADMIN_LOGIN_ID", "admin"},
                     {"ADMIN_PASSWORD", "api routes test password 42"},
                     {"ADMIN_EMAIL", "admin@example.org"}};
    auto loaded = load_settings(sources, 2);
    ASSERT_TRUE(loaded.ok()) << loaded.errors.front();
    app_ = std::make_unique<AppContext>(loaded.settings);
    ASSERT_TRUE(db::migrate(*app_->db));
    ASSERT_TRUE(app_->auth->bootstrap_admin());
    auto admin = app_->db->query("SELECT id FROM users WHERE login_id = 'admin'");
    ASSERT_TRUE(admin && admin->size() == 1);
    admin_id_ = admin->text(0, "id");
  }
  void TearDown() override {
    app_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  http::Response call(const http::RouteSpec& route, http::Request req) {
    http::RequestContext ctx;
    ctx.route = &route;
    ctx.principal = http::Principal{admin_id_, "admin", ""};
    ctx.authenticated = true;
    boost::asio::io_context ioc;
    auto done = boost::asio::co_spawn(ioc, route.handler(req, ctx), boost::asio::use_future);
    ioc.run();
    return done.get();
  }

  fs::path dir_;
  std::unique_ptr<AppContext> app_;
  std::string admin_id_;
};

// True when `stamp` (the stored form, text order = time order) lies within [from - 1 s, now + 1 s].
bool stamped_since(const std::string& stamp, std::chrono::system_clock::time_point from) {
  using std::chrono::seconds;
  return format_iso8601(from - seconds(1), true) <= stamp &&
         stamp <= format_iso8601(std::chrono::system_clock::now() + seconds(1), true);
}

const http::RouteSpec& find(const std::vector<http::RouteSpec>& routes, std::string_view method,
                            std::string_view path) {
  for (const auto& r : routes) {
    if (r.method == method && r.path == path) return r;
  }
  throw std::runtime_error("no route " + std::string(path));
}

// Overwrites the stack below the caller, as the calls after a table's builder returns do.
[[gnu::noinline]] void scribble_stack() {
  volatile unsigned char junk[64 * 1024];
  for (std::size_t i = 0; i < sizeof junk; ++i) junk[i] = 0xA5;
}

// The project and company tables' handlers called a lambda of the table builder by reference
// after the builder had returned (the fuzz build's UBSan saw the clock at address 0xb). In a
// plain build the dead frame often still holds the right pointer and this passes anyway; the
// sanitizer builds (UBSan's vptr check, ASan with detect_stack_use_after_return=1 as fuzz/run.sh
// runs) catch the reference itself.
TEST_F(ApiRoutes, HandlersOutliveTheirTableBuilder) {
  const auto projects = api::project_routes(*app_);
  const auto companies = api::company_routes(*app_);
  scribble_stack();
  http::Request req;
  req.method = "POST";
  req.headers.add("Content-Type", "application/json");
  req.body = R"({"name":"Stamped now"})";
  const auto before = std::chrono::system_clock::now();
  auto res = call(find(projects, "POST", "/api/projects"), req);
  ASSERT_EQ(res.status, 201u) << res.body;
  const auto project = boost::json::parse(res.body);
  const std::string created(project.at("created_at").as_string());
  EXPECT_TRUE(stamped_since(created, before)) << created;

  scribble_stack();
  req.body = R"({"name":"Acme","registration_number":"1248100998"})";
  const std::string id(project.at("id").as_string());
  auto& create_company = find(companies, "POST", "/api/projects/{id}/companies");
  http::RequestContext ctx;
  ctx.route = &create_company;
  ctx.principal = http::Principal{admin_id_, "admin", ""};
  ctx.path_params = {{"id", id}};
  boost::asio::io_context ioc;
  auto done = boost::asio::co_spawn(ioc, create_company.handler(req, ctx), boost::asio::use_future);
  ioc.run();
  res = done.get();
  ASSERT_EQ(res.status, 201u) << res.body;
  const std::string company_created(boost::json::parse(res.body).at("created_at").as_string());
  EXPECT_TRUE(stamped_since(company_created, before)) << company_created;
}

// The documentation's copy of the table held the docs route whose handler owned that copy: a
// cycle that kept every table ever built alive (LeakSanitizer in the fuzz build). Building and
// dropping the table again and again must not grow the heap.
TEST_F(ApiRoutes, TheRouteTableIsFreedWhenDropped) {
  (void)api::all_routes(*app_);  // warm-up: one-time caches
  const auto in_use = [] { return mallinfo2().uordblks; };
  const auto before = in_use();
  for (int i = 0; i < 20; ++i) (void)api::all_routes(*app_);
  const auto after = in_use();
  // A leaked table is about 400 KB: twenty of them are 8 MB. Allow 2 MB for other threads.
  EXPECT_LT(after, before + 2 * 1024 * 1024) << "heap grew by " << (after - before) << " bytes";
}

}  // namespace
}  // namespace evald
