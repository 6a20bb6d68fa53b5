#pragma once
/// Password hashing with argon2id (libsodium), stored as PHC strings
/// ("$argon2id$v=19$m=19456,t=2,p=1$salt$hash"). Hashing costs about 20 ms and 19 MiB:
/// call it from the worker pool, never an I/O thread.

#include <string>
#include <string_view>

namespace evald::auth {

struct HashParams {
  unsigned long long ops = 2;                             ///< t
  std::size_t mem_bytes = std::size_t{19} * 1024 * 1024;  ///< m (OWASP minimum: 19 MiB)
};

/// Throws std::runtime_error only when memory cannot be had.
std::string hash_password(std::string_view password, const HashParams& params = {});

/// Constant-time verification against a PHC string; false for a malformed hash.
bool verify_password(std::string_view password, const std::string& phc);

/// True when the hash was made with weaker parameters than `params` (upgrade at next login).
bool needs_rehash(const std::string& phc, const HashParams& params = {});

}  // namespace evald::auth
