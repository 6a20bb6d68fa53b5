#include "auth/totp.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <png.h>
#include <qrencode.h>
#include <sodium.h>

#include <array>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <memory>
#include <stdexcept>
#include <vector>

#include "auth/jwt.hpp"

namespace evald::auth {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr int kQrScale = 6;
constexpr int kQrMargin = 4;

std::string percent(std::string_view s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

}  // namespace

std::string base32_encode(std::string_view bytes) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out += kAlphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << (5 - bits)) & 31];
  return out;
}

std::optional<std::string> base32_decode(std::string_view text) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char ch : text) {
    if (ch == '=' || ch == ' ') continue;
    const char c = static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
    const char* p = std::char_traits<char>::find(kAlphabet, 32, c);
    if (!p) return std::nullopt;
    buffer = (buffer << 5) | static_cast<unsigned>(p - kAlphabet);
    bits += 5;
    if (bits >= 8) {
      out += static_cast<char>((buffer >> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return out;
}

std::int64_t totp_step(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count() /
         kTotpStepSeconds;
}

std::string totp_at(std::string_view secret, std::int64_t step) {
  unsigned char counter[8];
  for (int i = 7; i >= 0; --i) {
    counter[i] = static_cast<unsigned char>(step & 0xff);
    step >>= 8;
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()), counter, sizeof counter, mac,
       &len);
  const int offset = mac[len - 1] & 0x0f;
  const std::uint32_t binary = (static_cast<std::uint32_t>(mac[offset] & 0x7f) << 24) |
                               (static_cast<std::uint32_t>(mac[offset + 1]) << 16) |
                               (static_cast<std::uint32_t>(mac[offset + 2]) << 8) |
                               static_cast<std::uint32_t>(mac[offset + 3]);
  std::string code = std::to_string(binary % 1'000'000);
  return std::string(kTotpDigits - code.size(), '0') + code;
}

std::optional<std::int64_t> totp_match(std::string_view secret, std::string_view code,
                                       SystemTime now) {
  if (code.size() != kTotpDigits) return std::nullopt;
  const std::int64_t step = totp_step(now);
  std::optional<std::int64_t> found;
  for (std::int64_t s = step - 1; s <= step + 1; ++s) {
    const std::string expected = totp_at(secret, s);
    if (sodium_memcmp(expected.data(), code.data(), kTotpDigits) == 0 && !found) found = s;
  }
  return found;
}

std::string otpauth_uri(std::string_view secret, std::string_view issuer, std::string_view label) {
  return "otpauth://totp/" + percent(issuer) + ":" + percent(label) +
         "?secret=" + base32_encode(secret) + "&issuer=" + percent(issuer) +
         "&algorithm=SHA1&digits=6&period=30";
}

std::string qr_png_data_uri(std::string_view text) {
  const std::string input(text);
  std::unique_ptr<QRcode, decltype(&QRcode_free)> qr(
      QRcode_encodeString(input.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1), &QRcode_free);
  if (!qr) throw std::runtime_error("QR encoding failed");
  const int modules = qr->width;
  const int size = (modules + 2 * kQrMargin) * kQrScale;

  std::string png;
  png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(p);
  if (!p || !info || setjmp(png_jmpbuf(p))) {
    png_destroy_write_struct(&p, &info);
    throw std::runtime_error("PNG encoding failed");
  }
  png_set_write_fn(
      p, &png,
      [](png_structp ps, png_bytep data, png_size_t n) {
        static_cast<std::string*>(png_get_io_ptr(ps))->append(reinterpret_cast<char*>(data), n);
      },
      nullptr);
  png_set_IHDR(p, info, static_cast<png_uint_32>(size), static_cast<png_uint_32>(size), 1,
               PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(p, info);
  std::vector<unsigned char> row((size + 7) / 8);
  for (int y = 0; y < size; ++y) {
    std::fill(row.begin(), row.end(), 0xff);  // white
    const int my = y / kQrScale - kQrMargin;
    for (int x = 0; x < size; ++x) {
      const int mx = x / kQrScale - kQrMargin;
      const bool dark =
          mx >= 0 && my >= 0 && mx < modules && my < modules && (qr->data[my * modules + mx] & 1);
      if (dark) row[x / 8] &= static_cast<unsigned char>(~(0x80 >> (x % 8)));
    }
    png_write_row(p, row.data());
  }
  png_write_end(p, nullptr);
  png_destroy_write_struct(&p, &info);

  const std::size_t len = sodium_base64_encoded_len(png.size(), sodium_base64_VARIANT_ORIGINAL);
  std::string b64(len, '\0');
  sodium_bin2base64(b64.data(), len, reinterpret_cast<const unsigned char*>(png.data()), png.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  b64.resize(len - 1);
  return "data:image/png;base64," + b64;
}

}  // namespace evald::auth
