#include "app/commands.hpp"

#include <iostream>

#include "api/routes.hpp"
#include "app/app_context.hpp"
#include "app/pipeline_order.hpp"
#include "core/ids.hpp"
#include "db/backup.hpp"
#include "db/migrations.hpp"
#include "domain/seed.hpp"
#include "log/log.hpp"
#include "net/server.hpp"
#include "ratelimit/rules_file.hpp"

namespace evald::cli {
namespace {

// A one-line message for the operator: the client-safe message, or the internal one when
// that is what explains it (CLI output is the operator's, not a client's).
std::string describe(const ApiError& e) {
  if (e.internal_detail.empty() || e.internal_detail == e.message) return e.message;
  return e.message + ": " + e.internal_detail;
}

// "; password: Password is too common" for each field problem.
std::string detail_list(const ApiError& e) {
  std::string out;
  for (const auto& d : e.details) out += "; " + d.field + ": " + d.message;
  return out;
}

int fail(const std::string& message) {
  std::cerr << "evald: " << message << "\n";
  return 1;
}

// SIGHUP: the rules file again; a bad file keeps the rules in force.
void reload_rules(AppContext& app) {
  auto lg = log::get("ratelimit");
  const auto& path = app.settings.ratelimit.rules_file;
  if (path.empty()) {
    lg->info("{}", log::Line("SIGHUP: RATE_LIMIT_RULES is not set; the default rules stay"));
    return;
  }
  auto loaded = ratelimit::load_rules_file(path);
  if (!loaded.rules) {
    std::string all;
    for (const auto& e : loaded.errors) all += (all.empty() ? "" : "; ") + e;
    lg->error("{}", log::Line("rules file rejected; the rules in force stay")
                        .kv("file", path)
                        .kv("errors", all));
    return;
  }
  const auto count = loaded.rules->rules().size();
  app.limiter->reload(std::move(*loaded.rules));
  lg->info("{}", log::Line("rules reloaded")
                     .kv("file", path)
                     .kv("rules", static_cast<unsigned long long>(count)));
}

}  // namespace

int serve(const Settings& settings) {
  if (!settings.ratelimit.redis_url.empty() &&
      !ratelimit::parse_redis_url(settings.ratelimit.redis_url)) {
    std::cerr << "evald: invalid configuration: REDIS_URL: must be "
                 "redis://[:password@]host[:port][/db]\n";
    return 2;
  }
  auto rules = ratelimit::default_rules();
  if (!settings.ratelimit.rules_file.empty()) {
    auto loaded = ratelimit::load_rules_file(settings.ratelimit.rules_file);
    for (const auto& e : loaded.errors) {
      std::cerr << "evald: invalid configuration: RATE_LIMIT_RULES: " << e << "\n";
    }
    if (!loaded.rules) return 2;
    rules = std::move(*loaded.rules);
  }
  log::init(settings.log);
  auto lg = log::get("app");
  int code = 0;
  try {
    AppContext app(settings);
    app.limiter->reload(std::move(rules));
    lg->info("{}", log::Line("starting")
                       .kv("version", build_info().version)
                       .kv("commit", build_info().commit)
                       .kv("environment", to_string(app.settings.environment))
                       .kv("database", to_string(app.db->engine())));
    if (app.settings.auth.jwt_secret.empty()) {
      lg->warn("{}", log::Line("JWT_SECRET is not set: access tokens and MFA secrets use a key "
                               "made at start, so sign-ins and MFA do not survive a restart "
                               "(allowed in development and test only)"));
    }
    if (app.settings.db.migrate_on_start) {
      auto m = db::migrate(*app.db);
      if (!m) throw std::runtime_error(describe(m.error()));
      if (!m->applied.empty()) {
        lg->info("{}", log::Line("migrated").kv("from", m->from).kv("to", m->to));
      }
    } else {
      auto v = db::current_schema_version(*app.db);
      if (!v) throw std::runtime_error(describe(v.error()));
      if (*v > db::latest_schema_version()) {
        throw std::runtime_error("the database schema (version " + std::to_string(*v) +
                                 ") is newer than this evald supports (version " +
                                 std::to_string(db::latest_schema_version()) + "); upgrade evald");
      }
      if (*v != db::latest_schema_version()) {
        throw std::runtime_error(
            "database schema is version " + std::to_string(*v) + ", this evald needs " +
            std::to_string(db::latest_schema_version()) + "; run 'evald migrate'");
      }
    }
    if (auto made = app.auth->bootstrap_admin(); !made) {
      throw std::runtime_error("cannot create the first admin from ADMIN_LOGIN_ID: " +
                               describe(made.error()) + detail_list(made.error()));
    } else if (*made) {
      lg->info("{}",
               log::Line("first admin created").kv("login_id", app.settings.auth.admin_login_id));
    }
    if (auto resealed = app.auth->reseal_mfa_secrets(); !resealed) {
      throw std::runtime_error("cannot seal MFA secrets under the new JWT_SECRET: " +
                               describe(resealed.error()));
    } else if (*resealed > 0) {
      lg->info("{}",
               log::Line("MFA secrets sealed under the new JWT_SECRET").kv("count", *resealed));
    }
    auto dispatcher = build_dispatcher(app);
    net::Server server(app.settings, dispatcher, app.server_state, *app.workers);
    server.bind();
    server.on_reload([&app] { reload_rules(app); });
    if (app.settings.ratelimit.enabled) app.limiter->start();
    app.error_log->start();
    app.health->start();
    if (app.backups) app.backups->start();
    if (app.outbox) {
      app.outbox->start();
    } else {
      lg->warn("{}", log::Line("SMTP_SERVER is not set: mail (password resets) waits in the "
                               "outbox until it is"));
    }
    server.run();
    app.limiter->stop();  // before the I/O threads' io_contexts go
    app.error_log->stop();
    app.health->stop();
    if (app.outbox) app.outbox->stop();
    if (app.backups) app.backups->stop();
    app.workers->stop();
  } catch (const std::exception& e) {
    lg->critical("{}", log::Line("fatal").kv("what", e.what()));
    log::shutdown();
    return fail(e.what());
  }
  log::shutdown();
  return code;
}

int migrate(const Settings& settings) {
  try {
    RealClock clock;
    auto db = db::open_database(database_options(settings), clock);
    auto m = db::migrate(*db);
    if (!m) return fail(describe(m.error()));
    if (m->applied.empty()) {
      std::cout << "schema is up to date (version " << m->to << ")\n";
    } else {
      std::cout << "migrated schema from version " << m->from << " to " << m->to << "\n";
    }
    return 0;
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

int backup(const Settings& settings, const std::string& out) {
  try {
    RealClock clock;
    auto db = db::open_database(database_options(settings), clock);
    auto info = db::write_backup(*db, out, build_info().version);
    if (!info) return fail("backup failed: " + describe(info.error()));
    std::cout << "wrote " << info->path << ": " << info->rows << " rows in "
              << info->table_rows.size() << " tables, " << info->size_bytes << " bytes, sha256 "
              << info->sha256 << "\n";
    return 0;
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

int restore(const Settings& settings, const std::string& file, bool force) {
  try {
    RealClock clock;
    auto db = db::open_database(database_options(settings), clock);
    auto info = db::restore_backup(*db, file, db::RestoreOptions{force});
    if (!info) return fail("restore refused: " + describe(info.error()));
    std::cout << "restored " << info->rows << " rows in " << info->table_rows.size()
              << " tables from " << file << "\n";
    return 0;
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

int create_user(const Settings& settings, const std::string& login_id, const std::string& role,
                const std::string& email, const std::string& name) {
  try {
    std::string password;
    std::getline(std::cin, password);
    if (!password.empty() && password.back() == '\r') password.pop_back();
    RealClock clock;
    auto db = db::open_database(database_options(settings), clock);
    if (auto m = db::migrate(*db); !m) return fail(describe(m.error()));
    auth::AuthService auth(*db, clock, settings.auth, 1);
    auto user = auth.create_user(login_id, email, name, role, password);
    if (!user)
      return fail("cannot create user: " + describe(user.error()) + detail_list(user.error()));
    std::cout << "created " << user->role << " " << user->login_id << " (" << user->id << ")\n";
    return 0;
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

int seed_demo(const Settings& settings, const SeedDemoArgs& args) {
  if (settings.environment == Environment::kProduction && !args.force) {
    return fail(
        "seed-demo adds demo accounts with a known password; refused in production "
        "(pass --force to do it anyway)");
  }
  if (args.companies < 1 || args.companies > 100'000 || args.evaluators < 1 ||
      args.evaluators > 10'000 || args.sheets_per_company < 0) {
    return fail(
        "seed-demo: --companies 1..100000, --evaluators 1..10000, "
        "--sheets-per-company >= 0");
  }
  try {
    RealClock clock;
    auto db = db::open_database(database_options(settings), clock);
    if (auto m = db::migrate(*db); !m) return fail(describe(m.error()));
    domain::SeedOptions o;
    o.companies = args.companies;
    o.evaluators = args.evaluators;
    o.sheets_per_company = args.sheets_per_company;
    o.seed = args.seed;
    o.password = "Demo-" + random_token_hex(6) + "!";
    auto r = domain::seed_demo(*db, clock, o);
    if (!r) return fail("seed-demo failed: " + describe(r.error()) + detail_list(r.error()));
    std::cout << "seeded project " << r->project_id << ": " << r->companies << " companies, "
              << r->evaluators << " evaluators, " << r->sheets << " sheets (" << r->submitted
              << " submitted), " << r->scores << " scores\n"
              << "secretary: " << r->secretary_login << "\n"
              << "evaluators: " << r->first_evaluator_login << " ... (numbered to " << r->evaluators
              << ")\n"
              << "password (every demo account): " << o.password << "\n";
    return 0;
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

int openapi(const Settings& settings) {
  auto rules = ratelimit::default_rules();
  if (!settings.ratelimit.rules_file.empty()) {
    auto loaded = ratelimit::load_rules_file(settings.ratelimit.rules_file);
    for (const auto& e : loaded.errors) {
      std::cerr << "evald: invalid configuration: RATE_LIMIT_RULES: " << e << "\n";
    }
    if (!loaded.rules) return 2;
    rules = std::move(*loaded.rules);
  }
  try {
    // The route table needs an AppContext; nothing is served, so an in-memory database does.
    Settings s = settings;
    s.db.url = "sqlite://:memory:";
    s.mail.smtp_server.clear();
    s.db.backup_dir.clear();
    AppContext app(s);
    app.limiter->reload(std::move(rules));
    std::cout << api::openapi_text(app, api::all_routes(app)) << "\n";
    app.workers->stop();
    return 0;
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

}  // namespace evald::cli
