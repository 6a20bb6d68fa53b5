#include "auth/mfa.hpp"

#include <sodium.h>

#include <boost/json.hpp>

#include "auth/jwt.hpp"
#include "auth/totp.hpp"
#include "core/ids.hpp"

namespace evald::auth {

namespace {

std::string derive_key(std::string_view material) {
  static constexpr std::string_view kContext = "evald mfa secret key v1";
  std::string key(crypto_secretbox_KEYBYTES, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(key.data()), key.size(),
                     reinterpret_cast<const unsigned char*>(material.data()), material.size(),
                     reinterpret_cast<const unsigned char*>(kContext.data()), kContext.size());
  return key;
}

std::optional<std::string> open_with(const std::string& raw, const std::string& key) {
  const auto* nonce = reinterpret_cast<const unsigned char*>(raw.data());
  std::string plain(raw.size() - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()),
                                 nonce + crypto_secretbox_NONCEBYTES,
                                 raw.size() - crypto_secretbox_NONCEBYTES, nonce,
                                 reinterpret_cast<const unsigned char*>(key.data())) != 0) {
    return std::nullopt;
  }
  return plain;
}

}  // namespace

MfaVault::MfaVault(std::string_view material, std::string_view previous_material)
    : key_(derive_key(material)),
      previous_(previous_material.empty() ? std::string() : derive_key(previous_material)) {}

std::string MfaVault::seal(std::string_view plain) const {
  std::string out(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plain.size(), '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(nonce + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(plain.data()), plain.size(), nonce,
                        reinterpret_cast<const unsigned char*>(key_.data()));
  return base64url_encode(out);
}

std::optional<std::string> MfaVault::open(std::string_view sealed, bool* by_previous) const {
  if (by_previous) *by_previous = false;
  std::string raw;
  if (!base64url_decode(sealed, raw) ||
      raw.size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
    return std::nullopt;
  }
  if (auto plain = open_with(raw, key_)) return plain;
  if (previous_.empty()) return std::nullopt;
  auto plain = open_with(raw, previous_);
  if (plain && by_previous) *by_previous = true;
  return plain;
}

std::vector<std::string> new_backup_codes() {
  std::vector<std::string> codes;
  for (int i = 0; i < kBackupCodeCount; ++i) {
    std::string raw(7, '\0');  // 56 random bits, 50 of them used
    secure_random(raw.data(), raw.size());
    const std::string b32 = base32_encode(raw).substr(0, 10);
    codes.push_back(b32.substr(0, 5) + "-" + b32.substr(5));
  }
  return codes;
}

std::string normalize_backup_code(std::string_view code) {
  std::string out;
  for (char c : code) {
    if (c == '-' || c == ' ') continue;
    out += static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
  }
  return out;
}

Result<int> reseal_mfa_secrets(db::Tx& tx, const MfaVault& vault) {
  if (!vault.has_previous()) return 0;
  auto rows =
      tx.query("SELECT user_id, secret_encrypted, pending_secret_encrypted FROM mfa_secrets", {});
  if (!rows) return std::move(rows).error();
  int resealed = 0;
  for (std::size_t i = 0; i < rows->size(); ++i) {
    for (const char* column : {"secret_encrypted", "pending_secret_encrypted"}) {
      const std::string sealed = rows->text(i, column);
      bool by_previous = false;
      if (sealed.empty()) continue;
      auto plain = vault.open(sealed, &by_previous);
      if (!plain || !by_previous) continue;
      auto st = tx.exec(std::string("UPDATE mfa_secrets SET ") + column +
                            " = $1 WHERE user_id = $2 AND " + column + " = $3",
                        {vault.seal(*plain), rows->text(i, "user_id"), sealed});
      if (!st) return std::move(st).error();
      ++resealed;
    }
  }
  return resealed;
}

Result<MfaState> load_mfa(db::Tx& tx, const MfaVault& vault, std::string_view user_id) {
  auto rows = tx.query(
      "SELECT secret_encrypted, pending_secret_encrypted, enabled, pending_backup_codes "
      "FROM mfa_secrets WHERE user_id = $1",
      {std::string(user_id)});
  if (!rows) return std::move(rows).error();
  MfaState st;
  if (rows->empty()) return st;
  st.enabled = rows->integer(0, "enabled") != 0;
  auto decrypt = [&](const std::string& sealed) -> Result<std::string> {
    if (sealed.empty()) return std::string();
    auto plain = vault.open(sealed);
    if (!plain) {
      return ApiError::internal("an MFA secret cannot be decrypted (MFA_ENCRYPTION_KEY changed?)");
    }
    return std::move(*plain);
  };
  auto secret = decrypt(rows->text(0, "secret_encrypted"));
  if (!secret) return std::move(secret).error();
  auto pending = decrypt(rows->text(0, "pending_secret_encrypted"));
  if (!pending) return std::move(pending).error();
  st.secret = std::move(*secret);
  st.pending_secret = std::move(*pending);
  st.pending_codes = rows->text(0, "pending_backup_codes");
  return st;
}

Status save_pending_mfa(db::Tx& tx, const MfaVault& vault, std::string_view user_id,
                        std::string_view secret, const std::vector<std::string>& codes,
                        std::string_view now) {
  boost::json::array hashes;
  for (const auto& c : codes) hashes.emplace_back(sha256_hex(normalize_backup_code(c)));
  auto r = tx.exec(
      "INSERT INTO mfa_secrets (user_id, secret_encrypted, pending_secret_encrypted, enabled, "
      "pending_backup_codes, created_at, updated_at) VALUES ($1, '', $2, 0, $3, $4, $4) "
      "ON CONFLICT (user_id) DO UPDATE SET pending_secret_encrypted = $2, "
      "pending_backup_codes = $3, updated_at = $4",
      {std::string(user_id), vault.seal(secret), boost::json::serialize(hashes), std::string(now)});
  if (!r) return std::move(r).error();
  return Ok{};
}

Status activate_mfa(db::Tx& tx, const MfaVault& vault, std::string_view user_id,
                    std::string_view secret, std::string_view pending_codes, std::int64_t step,
                    std::string_view now) {
  auto r = tx.exec(
      "UPDATE mfa_secrets SET secret_encrypted = $1, pending_secret_encrypted = NULL, "
      "pending_backup_codes = NULL, enabled = 1, last_used_step = $2, updated_at = $3 "
      "WHERE user_id = $4",
      {vault.seal(secret), step, std::string(now), std::string(user_id)});
  if (!r) return std::move(r).error();
  if (auto d = tx.exec("DELETE FROM mfa_backup_codes WHERE user_id = $1", {std::string(user_id)});
      !d) {
    return std::move(d).error();
  }
  boost::json::error_code ec;
  auto hashes = boost::json::parse(pending_codes, ec);
  if (ec || !hashes.is_array()) return ApiError::internal("pending backup codes are unreadable");
  for (const auto& h : hashes.as_array()) {
    auto ins = tx.exec(
        "INSERT INTO mfa_backup_codes (id, user_id, code_hash, created_at) VALUES ($1, $2, $3, $4)",
        {new_uuid(), std::string(user_id), std::string(h.as_string()), std::string(now)});
    if (!ins) return std::move(ins).error();
  }
  return Ok{};
}

Result<bool> consume_step(db::Tx& tx, std::string_view user_id, std::int64_t step) {
  auto r = tx.exec(
      "UPDATE mfa_secrets SET last_used_step = $1 WHERE user_id = $2 AND enabled = 1 "
      "AND (last_used_step IS NULL OR last_used_step < $1)",
      {step, std::string(user_id)});
  if (!r) return std::move(r).error();
  return *r == 1;
}

Result<bool> consume_backup_code(db::Tx& tx, std::string_view user_id, std::string_view code,
                                 std::string_view now) {
  const std::string normalized = normalize_backup_code(code);
  if (normalized.size() != 10) return false;
  auto r = tx.exec(
      "UPDATE mfa_backup_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 "
      "AND used_at IS NULL",
      {std::string(now), std::string(user_id), sha256_hex(normalized)});
  if (!r) return std::move(r).error();
  return *r >= 1;
}

Status delete_mfa(db::Tx& tx, std::string_view user_id) {
  for (const char* sql : {"DELETE FROM mfa_backup_codes WHERE user_id = $1",
                          "DELETE FROM mfa_secrets WHERE user_id = $1"}) {
    if (auto r = tx.exec(sql, {std::string(user_id)}); !r) return std::move(r).error();
  }
  return Ok{};
}

}  // namespace evald::auth
