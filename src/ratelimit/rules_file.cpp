#include "ratelimit/rules_file.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

namespace evald::ratelimit {
namespace {

const std::set<std::string, std::less<>> kCategories{"login", "upload", "admin",
                                                     "api",   "bulk",   "export"};
const std::set<std::string, std::less<>> kRoles{"default", "admin", "secretary", "evaluator"};
const std::set<std::string, std::less<>> kFields{
    "scope",          "match",       "limit", "window", "burst", "penalty", "penalty_threshold",
    "penalty_window", "max_penalty", "shadow"};

// Bounds that keep every duration and count far from overflow: a year, and 10^12 tokens.
constexpr double kYearSeconds = 365.0 * 24 * 3600;
constexpr double kMaxNumber = 1e12;

class Reader {
 public:
  explicit Reader(std::vector<std::string>& errors) : errors_(errors) {}

  void error(const YAML::Node& at, const std::string& where, const std::string& message) {
    std::string line;
    if (at.IsDefined() && at.Mark().line >= 0) {
      line = "line " + std::to_string(at.Mark().line + 1) + ": ";
    }
    errors_.push_back(line + where + ": " + message);
  }

  // A number of at least `min` (exclusive when `above`) and at most `max`; nullopt (and an
  // error) otherwise.
  std::optional<double> number(const YAML::Node& n, const std::string& where, double min,
                               bool above, double max = kMaxNumber) {
    double v = 0;
    if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || !std::isfinite(v)) {
      error(n, where, "must be a number");
      return std::nullopt;
    }
    if (above ? v <= min : v < min) {
      std::ostringstream m;
      m << "must be " << (above ? "above " : "at least ") << min;
      error(n, where, m.str());
      return std::nullopt;
    }
    if (v > max) {
      std::ostringstream m;
      m << "must be at most " << max;
      error(n, where, m.str());
      return std::nullopt;
    }
    return v;
  }

  std::optional<std::string> text(const YAML::Node& n, const std::string& where) {
    if (!n.IsScalar()) {
      error(n, where, "must be a string");
      return std::nullopt;
    }
    return n.Scalar();
  }

  std::optional<Rule> rule(const YAML::Node& n, const std::string& where) {
    if (!n.IsMap()) {
      error(n, where, "must be a mapping with scope, limit and window");
      return std::nullopt;
    }
    const std::size_t before = errors_.size();
    for (const auto& kv : n) {
      const auto key = kv.first.IsScalar() ? kv.first.Scalar() : std::string("?");
      if (!kFields.contains(key)) error(kv.first, where, "unknown field '" + key + "'");
    }
    Rule r;
    const auto scope = n["scope"] ? text(n["scope"], where + ".scope") : std::nullopt;
    if (!n["scope"]) error(n, where, "scope is required");
    std::string match;
    if (n["match"]) match = text(n["match"], where + ".match").value_or("");
    if (scope) {
      if (*scope == "per_ip" || *scope == "per_endpoint") {
        r.scope = *scope == "per_ip" ? Scope::kPerIp : Scope::kPerEndpoint;
        if (!kCategories.contains(match)) {
          error(n["match"] ? n["match"] : n, where + ".match",
                "must be a route category: login, upload, admin, api, bulk or export");
        }
        r.name = *scope + ":" + match;
      } else if (*scope == "per_user") {
        r.scope = Scope::kPerUser;
        if (!kRoles.contains(match)) {
          error(n["match"] ? n["match"] : n, where + ".match",
                "must be a role: default, admin, secretary or evaluator");
        }
        r.name = "per_user:" + match;
      } else if (*scope == "global") {
        r.scope = Scope::kGlobal;
        if (n["match"]) error(n["match"], where + ".match", "a global rule matches everything");
        r.name = "global";
      } else {
        error(n["scope"], where + ".scope", "must be per_ip, per_user, per_endpoint or global");
      }
    }
    auto seconds_ms = [&](const char* field, double min_s) -> std::optional<std::int64_t> {
      auto v = number(n[field], where + "." + field, min_s, false, kYearSeconds);
      if (!v) return std::nullopt;
      return static_cast<std::int64_t>(std::llround(*v * 1000));
    };
    if (!n["limit"]) error(n, where, "limit is required");
    if (!n["window"]) error(n, where, "window is required");
    if (n["limit"]) r.limit = number(n["limit"], where + ".limit", 0, true).value_or(1);
    if (n["window"]) {
      if (auto w = seconds_ms("window", 0.001)) r.window = std::chrono::milliseconds(*w);
    }
    r.burst = r.limit;
    if (n["burst"]) {
      r.burst = number(n["burst"], where + ".burst", 1, false).value_or(1);
    } else if (r.limit < 1) {
      // Below one token no request could ever pass.
      error(n["limit"], where + ".burst",
            "defaults to the limit, which is below 1; set a burst of at least 1");
    }
    r.penalty_window = std::chrono::duration_cast<std::chrono::seconds>(r.window);
    if (r.penalty_window.count() == 0) r.penalty_window = std::chrono::seconds(1);
    auto whole_seconds = [&](const char* field, double min) -> std::optional<std::int64_t> {
      auto v = number(n[field], where + "." + field, min, false, kYearSeconds);
      if (!v) return std::nullopt;
      if (*v != std::floor(*v)) {
        error(n[field], where + "." + field, "must be a whole number of seconds");
        return std::nullopt;
      }
      return static_cast<std::int64_t>(*v);
    };
    if (n["penalty"]) r.penalty = std::chrono::seconds(whole_seconds("penalty", 0).value_or(0));
    if (n["penalty_window"]) {
      r.penalty_window = std::chrono::seconds(whole_seconds("penalty_window", 1).value_or(1));
    }
    if (n["max_penalty"]) {
      r.max_penalty = std::chrono::seconds(whole_seconds("max_penalty", 1).value_or(1));
    }
    if (n["penalty_threshold"]) {
      auto t = number(n["penalty_threshold"], where + ".penalty_threshold", 1, false);
      if (t && *t != std::floor(*t)) {
        error(n["penalty_threshold"], where + ".penalty_threshold", "must be a whole number");
      } else if (t) {
        r.penalty_threshold = static_cast<unsigned>(std::min(*t, 1e6));
      }
    }
    if (r.scope == Scope::kGlobal && r.penalty.count() > 0) {
      error(n["penalty"], where + ".penalty",
            "a global rule has no penalty (it would block every client)");
    }
    if (r.penalty.count() > 0 && r.max_penalty < r.penalty) {
      error(n["max_penalty"] ? n["max_penalty"] : n, where + ".max_penalty",
            "must be at least the penalty");
    }
    if (n["shadow"]) {
      bool b = false;
      if (!n["shadow"].IsScalar() || !YAML::convert<bool>::decode(n["shadow"], b)) {
        error(n["shadow"], where + ".shadow", "must be true or false");
      }
      r.shadow = b;
    }
    if (errors_.size() != before) return std::nullopt;
    return r;
  }

 private:
  std::vector<std::string>& errors_;
};

}  // namespace

RulesLoad parse_rules(const std::string& text) {
  RulesLoad out;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    out.errors.push_back("line " + std::to_string(e.mark.line + 1) +
                         ": not valid JSON or YAML: " + e.msg);
    return out;
  }
  Reader reader(out.errors);
  YAML::Node list = root;
  if (root.IsMap()) {
    for (const auto& kv : root) {
      const auto key = kv.first.IsScalar() ? kv.first.Scalar() : std::string("?");
      if (key != "rules") reader.error(kv.first, "(top level)", "unknown field '" + key + "'");
    }
    list = root["rules"];
  }
  if (!list || !list.IsSequence()) {
    out.errors.push_back("rules: must be a list of rules (or a mapping with a 'rules' list)");
    return out;
  }
  if (list.size() == 0) {
    out.errors.push_back(
        "rules: the list is empty; unset RATE_LIMIT_RULES for the defaults, or "
        "RATE_LIMIT_ENABLED=false for none");
    return out;
  }
  std::vector<Rule> rules;
  std::set<std::string> names;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string where = "rules[" + std::to_string(i) + "]";
    auto r = reader.rule(list[i], where);
    if (!r) continue;
    if (!names.insert(r->name).second) {
      reader.error(list[i], where, "a second rule for " + r->name);
      continue;
    }
    rules.push_back(std::move(*r));
  }
  if (out.errors.empty()) out.rules.emplace(std::move(rules));
  return out;
}

RulesLoad load_rules_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    RulesLoad out;
    out.errors.push_back("cannot read '" + path + "'");
    return out;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().size() > 1 << 20) {
    RulesLoad out;
    out.errors.push_back("'" + path + "' is larger than 1 MiB");
    return out;
  }
  return parse_rules(ss.str());
}

}  // namespace evald::ratelimit
