#pragma once
/// Random identifiers and the request-id rules of API.md.

#include <cstddef>
#include <string>
#include <string_view>

namespace evald {

/// Fills `out` with cryptographically secure random bytes (libsodium).
void secure_random(void* out, std::size_t n);

/// 128 random bits as 32 lowercase hex characters. Cheap: draws from a per-thread CSPRNG buffer.
std::string new_request_id();

/// A request id from a client is accepted when it is 1..128 visible ASCII characters.
bool is_sane_request_id(std::string_view id);

/// A random (version 4) UUID, for opaque resource ids.
std::string new_uuid();

/// SHA-256 of `data` as lowercase hex (tokens are stored only as this).
std::string sha256_hex(std::string_view data);

/// A secret token: `bytes` random bytes as lowercase hex.
std::string random_token_hex(std::size_t bytes);

/// Lowercase hex of bytes.
std::string to_hex(const unsigned char* data, std::size_t n);

}  // namespace evald
