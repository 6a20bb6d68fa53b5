#include "core/ids.hpp"

#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace evald {
namespace {

struct SodiumInit {
  SodiumInit() {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  }
};

void ensure_sodium() { static const SodiumInit init; }

// Refilled from the CSPRNG in blocks so that a request id costs no system call.
struct RandomBuffer {
  std::array<unsigned char, 4096> bytes{};
  std::size_t used = bytes.size();

  void take(unsigned char* out, std::size_t n) {
    if (used + n > bytes.size()) {
      randombytes_buf(bytes.data(), bytes.size());
      used = 0;
    }
    std::copy_n(bytes.data() + used, n, out);
    sodium_memzero(bytes.data() + used, n);
    used += n;
  }
};

}  // namespace

void secure_random(void* out, std::size_t n) {
  ensure_sodium();
  randombytes_buf(out, n);
}

std::string to_hex(const unsigned char* data, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(n * 2, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    s[2 * i] = kDigits[data[i] >> 4];
    s[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return s;
}

std::string new_request_id() {
  ensure_sodium();
  thread_local RandomBuffer buffer;
  std::array<unsigned char, 16> raw{};
  buffer.take(raw.data(), raw.size());
  return to_hex(raw.data(), raw.size());
}

std::string new_uuid() {
  std::array<unsigned char, 16> b{};
  secure_random(b.data(), b.size());
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  const std::string h = to_hex(b.data(), b.size());
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

// OpenSSL's SHA-256 (SHA-NI where the CPU has it): session and reset tokens are looked up by
// this hash on every authenticated request.
std::string sha256_hex(std::string_view data) {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!md || EVP_Digest(data.data(), data.size(), out, &n, md, nullptr) != 1) {
    throw std::runtime_error("OpenSSL SHA-256 failed");
  }
  return to_hex(out, n);
}

std::string random_token_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  secure_random(raw.data(), raw.size());
  auto hex = to_hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  sodium_memzero(raw.data(), raw.size());
  return hex;
}

bool is_sane_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (unsigned char c : id) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace evald
