#pragma once
/// `evald seed-demo`: a realistic project to try the API with and to benchmark on: one project,
/// its companies (valid Korean business numbers, Korean names), evaluators, an active template,
/// and sheets in every state with scores.

#include <cstdint>
#include <string>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"

namespace evald::domain {

struct SeedOptions {
  int companies = 100;
  int evaluators = 20;
  int sheets_per_company = 10;  ///< capped at the number of evaluators
  int items = 6;                ///< template items
  std::uint64_t seed = 1;       ///< the same seed gives the same names, scores and states
  std::string password;         ///< every seeded account's password (already policy-checked)
};

struct SeedReport {
  std::string project_id;
  std::string secretary_login;
  std::string first_evaluator_login;
  std::int64_t companies = 0;
  std::int64_t evaluators = 0;
  std::int64_t sheets = 0;
  std::int64_t submitted = 0;
  std::int64_t scores = 0;
};

/// Writes everything in one transaction (all or nothing). Logins are prefixed with a short
/// random tag, so seeding twice adds a second project instead of colliding.
Result<SeedReport> seed_demo(db::Database& db, const Clock& clock, const SeedOptions& options);

/// A valid Korean business registration number "NNN-NN-NNNNN" built from the first nine digits
/// (the check digit is computed).
std::string business_number_from(std::uint32_t nine_digits);

}  // namespace evald::domain
