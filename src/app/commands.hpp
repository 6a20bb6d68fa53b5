#pragma once
/// The CLI verbs of evald. Each returns the process exit status.

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

}  // namespace evald::cli
