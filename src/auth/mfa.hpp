#pragma once
/// TOTP multi-factor authentication: secrets encrypted at rest (XSalsa20-Poly1305 with a key
/// derived from MFA_ENCRYPTION_KEY or JWT_SECRET), backup codes stored as hashes and single use,
/// each time step accepted once per user on every instance (the last used step is in the
/// database and advanced with a conditional update).

#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"

namespace evald::auth {

constexpr int kBackupCodeCount = 10;
constexpr const char* kTotpIssuer = "Online Evaluation System";

/// Seals with the key from `key_material`; opens with it or, during a JWT_SECRET rotation, with
/// the key from `previous_material` (empty: none).
class MfaVault {
 public:
  explicit MfaVault(std::string_view key_material, std::string_view previous_material = {});
  std::string seal(std::string_view plain) const;
  /// The plain text; `*by_previous` tells whether only the previous key opened it.
  std::optional<std::string> open(std::string_view sealed, bool* by_previous = nullptr) const;
  bool has_previous() const { return !previous_.empty(); }

 private:
  std::string key_;
  std::string previous_;
};

struct MfaState {
  bool enabled = false;
  std::string secret;          ///< decrypted, when enabled
  std::string pending_secret;  ///< decrypted, when a setup waits for verification
  std::string pending_codes;   ///< JSON array of backup-code hashes
};

/// "ABCDE-FGHJK": 10 characters of base32, 50 bits each.
std::vector<std::string> new_backup_codes();
/// Upper case, no separators; the form that is hashed.
std::string normalize_backup_code(std::string_view code);

/// Seals again with the current key every MFA secret that only the previous key opens (after a
/// JWT_SECRET rotation); the number of secrets re-sealed. Idempotent.
Result<int> reseal_mfa_secrets(db::Tx& tx, const MfaVault& vault);

Result<MfaState> load_mfa(db::Tx& tx, const MfaVault& vault, std::string_view user_id);
/// Records a pending setup (an active MFA stays active until the new one is verified).
Status save_pending_mfa(db::Tx& tx, const MfaVault& vault, std::string_view user_id,
                        std::string_view secret, const std::vector<std::string>& codes,
                        std::string_view now);
/// Makes the pending setup active, with its backup codes; `step` counts as used.
Status activate_mfa(db::Tx& tx, const MfaVault& vault, std::string_view user_id,
                    std::string_view secret, std::string_view pending_codes, std::int64_t step,
                    std::string_view now);
/// True when `step` was not used before for this user, and marks it used (atomic).
Result<bool> consume_step(db::Tx& tx, std::string_view user_id, std::int64_t step);
/// True when the code was an unused backup code of this user, and marks it used (atomic).
Result<bool> consume_backup_code(db::Tx& tx, std::string_view user_id, std::string_view code,
                                 std::string_view now);
Status delete_mfa(db::Tx& tx, std::string_view user_id);

}  // namespace evald::auth
