#pragma once
/// Account lockout: failed logins counted per login id (existing or not, so that a lockout
/// reveals nothing) within a window; at the limit the id is locked for the lockout duration.
/// The count and the lock live in the database, so every instance honours them.

#include <chrono>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"

namespace evald::auth {

struct LockoutStatus {
  bool is_locked = false;
  std::optional<std::string> lockout_until;
  unsigned failed_attempts = 0;
  unsigned remaining_attempts = 0;
};

class Lockout {
 public:
  Lockout(const Clock& clock, unsigned max_attempts, std::chrono::minutes duration)
      : clock_(clock), max_(max_attempts), duration_(duration) {}

  Result<LockoutStatus> status(db::Tx& tx, std::string_view login_id) const;
  /// Counts one failure atomically (safe across instances); locks at the limit.
  Result<LockoutStatus> record_failure(db::Tx& tx, std::string_view login_id) const;
  /// A success or an unlock: the count starts again.
  Status reset(db::Tx& tx, std::string_view login_id) const;

  unsigned max_attempts() const { return max_; }

 private:
  const Clock& clock_;
  unsigned max_;
  std::chrono::minutes duration_;
};

}  // namespace evald::auth
