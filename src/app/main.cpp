// evald: the Online Evaluation System backend. Parses the command line and runs a verb.

#include <CLI/CLI.hpp>
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "app/app_context.hpp"
#include "app/commands.hpp"

namespace {

using namespace evald;

std::string kebab(const std::string& name) {
  std::string out = name;
  for (auto& c : out) c = c == '_' ? '-' : static_cast<char>(std::tolower(c));
  return out;
}

struct CommonOptions {
  std::string env_file;
  bool env_file_given = false;
  RawConfig flags;
};

// Every setting can be given on the command line as --kebab-name VALUE.
void add_setting_flags(CLI::App* cmd, CommonOptions& opts) {
  cmd->add_option_function<std::string>(
      "--env-file",
      [&opts](const std::string& v) { opts.env_file = v, opts.env_file_given = true; },
      "read settings from this file instead of ./.env");
  for (const auto& info : setting_infos()) {
    const std::string name = info.name;
    std::string help = info.help + " (" + name;
    if (!info.default_value.empty()) help += ", default " + info.default_value;
    cmd->add_option_function<std::string>(
        "--" + kebab(name), [&opts, name](const std::string& v) { opts.flags[name] = v; },
        help + ")");
  }
}

// Loads and validates the configuration; prints every problem and exits 2 on failure.
Settings load_or_exit(const CommonOptions& opts) {
  ConfigSources sources;
  std::vector<std::string> errors;
  const std::string path = opts.env_file_given ? opts.env_file : ".env";
  std::ifstream in(path);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    sources.dotenv = parse_dotenv(ss.str(), errors);
  } else if (opts.env_file_given) {
    errors.push_back("--env-file: cannot read '" + path + "'");
  }
  sources.environment = read_process_environment();
  sources.flags = opts.flags;
  auto loaded = load_settings(sources, std::thread::hardware_concurrency());
  errors.insert(errors.end(), loaded.errors.begin(), loaded.errors.end());
  if (!errors.empty()) {
    for (const auto& e : errors) std::cerr << "evald: invalid configuration: " << e << "\n";
    std::exit(2);
  }
  return loaded.settings;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App cli{"evald: the Online Evaluation System backend"};
  cli.require_subcommand(0, 1);
  bool version = false;
  cli.add_flag("--version", version, "print the version and exit");

  CommonOptions opts;
  auto* serve_cmd = cli.add_subcommand("serve", "serve the HTTP API");
  add_setting_flags(serve_cmd, opts);

  auto* migrate_cmd = cli.add_subcommand("migrate", "create or upgrade the schema and indexes");
  add_setting_flags(migrate_cmd, opts);

  std::string backup_out;
  auto* backup_cmd = cli.add_subcommand("backup", "write a verified backup of every table");
  backup_cmd->add_option("--out", backup_out, "backup file to write")->required();
  add_setting_flags(backup_cmd, opts);

  std::string restore_file;
  bool restore_force = false;
  auto* restore_cmd = cli.add_subcommand("restore", "restore a backup into the database");
  restore_cmd->add_option("file", restore_file, "backup file to read")->required();
  restore_cmd->add_flag("--force", restore_force, "replace the contents of a non-empty database");
  add_setting_flags(restore_cmd, opts);

  std::string user_login, user_role, user_email, user_name;
  auto* user_cmd = cli.add_subcommand("user", "manage users");
  auto* user_create = user_cmd->add_subcommand("create", "create a user; password from stdin");
  user_cmd->require_subcommand(1);
  user_create->add_option("--login-id", user_login, "login id")->required();
  user_create->add_option("--role", user_role, "admin, secretary or evaluator")->required();
  user_create->add_option("--email", user_email, "email address")->required();
  user_create->add_option("--name", user_name, "display name (default: the login id)");
  add_setting_flags(user_create, opts);

  auto* openapi_cmd = cli.add_subcommand("openapi", "print the OpenAPI document");
  add_setting_flags(openapi_cmd, opts);

  cli::SeedDemoArgs seed;
  auto* seed_cmd = cli.add_subcommand("seed-demo", "fill the database with a demo project");
  seed_cmd->add_option("--companies", seed.companies, "companies (default 100)");
  seed_cmd->add_option("--evaluators", seed.evaluators, "evaluators (default 20)");
  seed_cmd->add_option("--sheets-per-company", seed.sheets_per_company,
                       "evaluators assigned to each company (default 10)");
  seed_cmd->add_option("--seed", seed.seed, "random seed: the same seed, the same data");
  seed_cmd->add_flag("--force", seed.force, "allow it when ENVIRONMENT=production");
  add_setting_flags(seed_cmd, opts);

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e);
  }
  if (version) {
    std::cout << "evald " << build_info().version << " (" << build_info().commit << ")\n";
    return 0;
  }
  if (serve_cmd->parsed()) return cli::serve(load_or_exit(opts));
  if (migrate_cmd->parsed()) return cli::migrate(load_or_exit(opts));
  if (backup_cmd->parsed()) return cli::backup(load_or_exit(opts), backup_out);
  if (restore_cmd->parsed()) return cli::restore(load_or_exit(opts), restore_file, restore_force);
  if (openapi_cmd->parsed()) return cli::openapi(load_or_exit(opts));
  if (seed_cmd->parsed()) return cli::seed_demo(load_or_exit(opts), seed);
  if (user_create->parsed()) {
    return cli::create_user(load_or_exit(opts), user_login, user_role, user_email, user_name);
  }
  std::cout << cli.help();
  return 0;
}
