#include <curl/curl.h>

#include <cstring>
#include <ctime>

#include "core/ids.hpp"
#include "core/time_format.hpp"
#include "mail/mail.hpp"

namespace evald::mail {
namespace {

constexpr long kConnectTimeoutSeconds = 10;
constexpr long kTotalTimeoutSeconds = 30;

struct Payload {
  std::string data;
  std::size_t offset = 0;
};

std::size_t read_payload(char* buffer, std::size_t size, std::size_t n, void* user) {
  auto* p = static_cast<Payload*>(user);
  const std::size_t room = size * n;
  const std::size_t left = p->data.size() - p->offset;
  const std::size_t take = std::min(room, left);
  std::memcpy(buffer, p->data.data() + p->offset, take);
  p->offset += take;
  return take;
}

// Header values come from our own templates and settings, but keep CR and LF out regardless.
std::string header_safe(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c != '\r' && c != '\n') out += c;
  }
  return out;
}

// RFC 2047 for a subject that is not plain ASCII.
std::string encode_subject(const std::string& s) {
  const bool ascii = std::all_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x80; });
  if (ascii) return header_safe(s);
  std::string b64;
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  unsigned v = 0;
  int bits = 0;
  for (unsigned char c : s) {
    v = (v << 8) | c;
    bits += 8;
    while (bits >= 6) {
      b64 += kB64[(v >> (bits - 6)) & 63];
      bits -= 6;
    }
  }
  if (bits) b64 += kB64[(v << (6 - bits)) & 63];
  while (b64.size() % 4) b64 += '=';
  return "=?UTF-8?B?" + b64 + "?=";
}

std::string message(const Mail& m, const std::string& from) {
  const std::string boundary = "evald-" + random_token_hex(12);
  std::string out;
  char date[64];
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  out += std::string("Date: ") + date + "\r\n";
  out += "From: " + header_safe(from) + "\r\n";
  out += "To: " + header_safe(m.to) + "\r\n";
  out += "Subject: " + encode_subject(m.subject) + "\r\n";
  out += "Message-ID: <" + random_token_hex(16) + "@evald>\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
  out += "--" + boundary + "\r\nContent-Type: text/plain; charset=UTF-8\r\n";
  out += "Content-Transfer-Encoding: 8bit\r\n\r\n" + m.text + "\r\n";
  if (!m.html.empty()) {
    out += "--" + boundary + "\r\nContent-Type: text/html; charset=UTF-8\r\n";
    out += "Content-Transfer-Encoding: 8bit\r\n\r\n" + m.html + "\r\n";
  }
  out += "--" + boundary + "--\r\n";
  return out;
}

class SmtpMailer final : public Mailer {
 public:
  explicit SmtpMailer(const MailSettings& s) : s_(s) { curl_global_init(CURL_GLOBAL_DEFAULT); }

  Status send(const Mail& m) override {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
    if (!curl)
      return ApiError{ErrorCode::kExternalServiceError,
                      "Mail could not be sent",
                      {},
                      0,
                      "curl_easy_init failed"};
    const std::string scheme = s_.smtp_tls == "tls" ? "smtps://" : "smtp://";
    const std::string url = scheme + s_.smtp_server + ":" + std::to_string(s_.smtp_port);
    Payload payload{message(m, s_.from_email)};
    curl_slist* rcpt = curl_slist_append(nullptr, ("<" + header_safe(m.to) + ">").c_str());
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, ("<" + header_safe(s_.from_email) + ">").c_str());
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_payload);
    curl_easy_setopt(c, CURLOPT_READDATA, &payload);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutSeconds);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, kTotalTimeoutSeconds);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (s_.smtp_tls == "starttls")
      curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
    if (!s_.smtp_username.empty()) {
      curl_easy_setopt(c, CURLOPT_USERNAME, s_.smtp_username.c_str());
      curl_easy_setopt(c, CURLOPT_PASSWORD, s_.smtp_password.c_str());
    }
    const CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(rcpt);
    if (rc != CURLE_OK) {
      return ApiError{ErrorCode::kExternalServiceError,
                      "Mail could not be sent",
                      {},
                      0,
                      std::string("smtp: ") + curl_easy_strerror(rc)};
    }
    return Ok{};
  }

 private:
  MailSettings s_;
};

}  // namespace

std::unique_ptr<Mailer> make_smtp_mailer(const MailSettings& settings) {
  return std::make_unique<SmtpMailer>(settings);
}

}  // namespace evald::mail
