#pragma once
/// The CLI verbs of evald. Each returns the process exit status.

#include <cstdint>
#include <string>

#include "config/settings.hpp"

namespace evald::cli {

int serve(const Settings& settings);
int migrate(const Settings& settings);
int backup(const Settings& settings, const std::string& out);
int restore(const Settings& settings, const std::string& file, bool force);
/// The password is read from standard input (one line), never from an argument.
int create_user(const Settings& settings, const std::string& login_id, const std::string& role,
                const std::string& email, const std::string& name);

/// Prints the OpenAPI document of the routes `serve` would run (without opening the database).
int openapi(const Settings& settings);

struct SeedDemoArgs {
  int companies = 100;
  int evaluators = 20;
  int sheets_per_company = 10;
  std::uint64_t seed = 1;
  bool force = false;  ///< allow ENVIRONMENT=production
};
/// Fills the database with a demo project; prints the logins and the password it set.
int seed_demo(const Settings& settings, const SeedDemoArgs& args);

}  // namespace evald::cli
