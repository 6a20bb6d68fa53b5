#include "core/ids.hpp"

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

bool is_sane_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (unsigned char c : id) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace evald
