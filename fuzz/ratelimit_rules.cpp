// The rate-limit rules file (RATE_LIMIT_RULES, src/ratelimit/rules_file.*): arbitrary text as
// the file, then, when it is accepted, the limiter running on those rules: a fixed round of
// requests over every category and role at times from 1 ms to a year apart, a reload to the
// defaults and back, and the statistics.
//
// Properties: no crash or UB (the bucket arithmetic on the extreme values a file may hold:
// tiny limits, year-long windows, 10^12 tokens); a refusal or acceptance is a list of errors
// or a rule set, never both or neither; every decision's retry and reset times are
// non-negative, and a refusal waits at least a millisecond.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/scratch.hpp"
#include "core/clock.hpp"
#include "ratelimit/limiter.hpp"
#include "ratelimit/rules_file.hpp"

namespace {

using namespace evald;
using fuzz::broken;

void exercise(const ratelimit::RuleSet& rules, const std::string& text) {
  ManualClock clock;
  ratelimit::Limiter limiter(rules, clock);
  static const char* kCategories[] = {"login", "upload", "admin", "api", "bulk", "export"};
  static const char* kRoles[] = {"", "admin", "secretary", "evaluator"};
  static const std::int64_t kSteps[] = {0, 1, 999, 60'000, 3'600'000, 86'400'000, 31'536'000'000};
  int n = 0;
  for (const auto step : kSteps) {
    for (int repeat = 0; repeat < 3; ++repeat) {
      for (const char* category : kCategories) {
        const char* role = kRoles[n % 4];
        const std::string user_id = *role ? std::string("user-") + role : "";
        ratelimit::RequestInfo req;  // views: user_id outlives it
        req.client_ip = n % 3 ? "203.0.113.9" : "2001:db8::1";
        req.role = role;
        req.user_id = user_id;
        req.category = category;
        req.route = "/api/projects";
        const auto d = limiter.check_local(req);
        for (const auto& o : d.outcomes) {
          if (o.verdict.retry_ms < 0 || o.verdict.reset_ms < 0 || o.blocked_ms < 0) {
            broken("a negative retry, reset or block time", text);
          }
          if (!o.verdict.allowed && !o.blocked && o.verdict.retry_ms < 1) {
            broken("a refusal that asks for no wait", text);
          }
        }
        ++n;
      }
      clock.advance(std::chrono::milliseconds(step));
    }
    if (n == 18 * 2) {
      limiter.reload(ratelimit::default_rules());
      limiter.reload(rules);
    }
  }
  (void)limiter.stats();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_quiet_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto loaded = ratelimit::parse_rules(text);
  if (loaded.rules.has_value() == !loaded.errors.empty()) {
    broken("a rules file is both accepted and refused, or neither", text);
  }
  if (loaded.rules) exercise(*loaded.rules, text);
  return 0;
}
