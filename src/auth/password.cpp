#include "auth/password.hpp"

#include <sodium.h>

#include <stdexcept>

#include "core/ids.hpp"

namespace evald::auth {

std::string hash_password(std::string_view password, const HashParams& params) {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), params.ops, params.mem_bytes,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw std::runtime_error("password hashing ran out of memory");
  }
  return out;
}

bool verify_password(std::string_view password, const std::string& phc) {
  if (phc.rfind("$argon2id$", 0) != 0 || phc.size() >= crypto_pwhash_STRBYTES) return false;
  return crypto_pwhash_str_verify(phc.c_str(), password.data(), password.size()) == 0;
}

bool needs_rehash(const std::string& phc, const HashParams& params) {
  return crypto_pwhash_str_needs_rehash(phc.c_str(), params.ops, params.mem_bytes) != 0;
}

}  // namespace evald::auth
