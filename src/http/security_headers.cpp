#include "http/security_headers.hpp"

namespace evald::http {

void apply_security_headers(Response& response, bool tls, bool authenticated) {
  response.headers.set("X-Content-Type-Options", "nosniff");
  response.headers.set("Referrer-Policy", "no-referrer");
  if (!response.headers.has("X-Frame-Options")) response.headers.set("X-Frame-Options", "DENY");
  if (response.status >= 400 || authenticated) response.headers.set("Cache-Control", "no-store");
  if (tls) response.headers.set("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
}

}  // namespace evald::http
