// evald: the Online Evaluation System backend. The CLI verbs and the composition root.

#include <CLI/CLI.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "app/app_context.hpp"
#include "app/pipeline_order.hpp"
#include "log/log.hpp"
#include "net/server.hpp"

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
    cmd->add_option_function<std::string>(
        "--" + kebab(name), [&opts, name](const std::string& v) { opts.flags[name] = v; },
        info.help + " (" + name + ")");
  }
}

// Loads and validates the configuration; prints every problem and exits on failure.
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

int serve(const CommonOptions& opts) {
  Settings settings = load_or_exit(opts);
  if (!settings.server.tls_cert_file.empty()) {
    std::cerr << "evald: invalid configuration: TLS_CERT_FILE: serving HTTPS directly is not "
                 "available in this build; terminate TLS at a proxy\n";
    return 2;
  }
  log::init(settings.log);
  auto lg = log::get("app");
  int code = 0;
  try {
    AppContext app(std::move(settings));
    lg->info("{}", log::Line("starting")
                       .kv("version", build_info().version)
                       .kv("commit", build_info().commit)
                       .kv("environment", to_string(app.settings.environment)));
    auto dispatcher = build_dispatcher(app);
    net::Server server(app.settings, dispatcher, app.server_state);
    server.bind();
    server.run();
    app.workers->stop();
  } catch (const std::exception& e) {
    lg->critical("{}", log::Line("fatal").kv("what", e.what()));
    std::cerr << "evald: " << e.what() << "\n";
    code = 1;
  }
  log::shutdown();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App cli{"evald: the Online Evaluation System backend"};
  cli.require_subcommand(0, 1);
  bool version = false;
  cli.add_flag("--version", version, "print the version and exit");

  CommonOptions serve_opts;
  auto* serve_cmd = cli.add_subcommand("serve", "serve the HTTP API");
  add_setting_flags(serve_cmd, serve_opts);

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e);
  }
  if (version) {
    std::cout << "evald " << build_info().version << " (" << build_info().commit << ")\n";
    return 0;
  }
  if (serve_cmd->parsed()) return serve(serve_opts);
  std::cout << cli.help();
  return 0;
}
