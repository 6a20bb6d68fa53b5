#pragma once
/// RATE_LIMIT_RULES: a JSON or YAML file that replaces the default rules. JSON is read as the
/// YAML it is a subset of, so one parser and one set of messages serve both.
///
///   rules:
///     - scope: per_ip            # per_ip | per_user | per_endpoint | global
///       match: login             # category (per_ip, per_endpoint) or role (per_user)
///       limit: 5                 # tokens per window
///       window: 300              # seconds (fractions allowed, at least 1 ms)
///       burst: 5                 # capacity; default: limit
///       penalty: 900             # seconds in the penalty box; default 0 (no box)
///       penalty_threshold: 3     # refusals within penalty_window that open the box
///       penalty_window: 300      # seconds; default: window
///       max_penalty: 86400       # cap of the doubling; default 86400
///       shadow: false            # counted and logged, not enforced

#include <optional>
#include <string>
#include <vector>

#include "ratelimit/rules.hpp"

namespace evald::ratelimit {

struct RulesLoad {
  std::optional<RuleSet> rules;     ///< set when there was no error
  std::vector<std::string> errors;  ///< "line 4: rules[0].limit: must be a number above 0"
};

/// Parses and validates rules text.
RulesLoad parse_rules(const std::string& text);
/// Reads and parses a file; a missing or unreadable file is an error.
RulesLoad load_rules_file(const std::string& path);

}  // namespace evald::ratelimit
