// multipart/form-data bodies (src/http/multipart.*) and what the upload and CSV-import routes do
// with the parts: the file name sanitised and sniffed (src/domain/files.*), the download's
// Content-Disposition, and the company CSV import read from a `file` part
// (src/api/company_input.*).
//
// Input: the first line is the Content-Type header's value, the rest is the body, e.g.
//   multipart/form-data; boundary=XyZ
//   --XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n...
//
// Properties: no crash or UB; at most max_parts parts, each part's data a piece of the body;
// a sanitised name is non-empty, at most 255 bytes of valid UTF-8 without separators, control
// characters or leading and trailing dots and spaces, and sanitising it again changes nothing;
// a Content-Disposition is printable ASCII whose filename* decodes back to the name; the error
// answers (field names and messages from the client's bytes included) are valid JSON.

#include <algorithm>
#include <boost/url/decode_view.hpp>
#include <boost/url/pct_string_view.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/company_input.hpp"
#include "common/scratch.hpp"
#include "domain/files.hpp"
#include "http/error_body.hpp"
#include "http/multipart.hpp"

namespace {

using namespace evald;
using fuzz::broken;

void check_error(const ApiError& e, std::string_view context) {
  const auto body =
      http::render_error_body(e, "fuzz-request-0000", std::chrono::system_clock::now(), true);
  if (!fuzz::is_valid_json(body)) {
    broken("an error body is not valid JSON", std::string(context) + "\nbody: " + body);
  }
}

bool has_code_point(std::string_view s, std::string_view utf8) {
  return s.find(utf8) != std::string_view::npos;
}

void check_file_name(const std::string& raw) {
  const std::string name = domain::sanitize_file_name(raw);
  const std::string context = "raw name: " + raw + "\nsanitised: " + name;
  if (name.empty() || name.size() > 255) broken("a sanitised name is empty or too long", context);
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == '"') {
      broken("a sanitised name holds a separator, quote or control character", context);
    }
  }
  if (!fuzz::is_valid_json("\"" + name + "\"")) {
    broken("a sanitised name is not valid UTF-8", context);
  }
  for (std::string_view bidi :
       {"\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"}) {
    if (has_code_point(name, bidi)) broken("a sanitised name holds a bidi control", context);
  }
  if (name.front() == '.' || name.front() == ' ' || name.back() == '.' || name.back() == ' ') {
    broken("a sanitised name starts or ends with a dot or space", context);
  }
  if (domain::sanitize_file_name(name) != name) broken("sanitising twice changes a name", context);

  const std::string cd = domain::attachment_disposition(name);
  for (unsigned char c : cd) {
    if (c < 0x20 || c > 0x7e) broken("a Content-Disposition is not printable ASCII", cd);
  }
  const auto star = cd.find("filename*=UTF-8''");
  if (star == std::string::npos) broken("a Content-Disposition without filename*", cd);
  const auto fallback = std::string_view(cd).substr(0, star);
  if (fallback.find('\\') != std::string_view::npos ||
      std::count(fallback.begin(), fallback.end(), '"') != 2) {
    broken("a Content-Disposition's fallback name is not one plain quoted string", cd);
  }
  auto encoded = boost::urls::make_pct_string_view(std::string_view(cd).substr(star + 17));
  if (!encoded || std::string(encoded->decode()) != name) {
    broken("a Content-Disposition's filename* does not decode to the name", cd);
  }
  (void)domain::sniff_file_type("%PDF-1.7\n", name);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_quiet_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto nl = input.find('\n');
  http::Request req;
  req.method = "POST";
  req.headers.add("Content-Type", input.substr(0, nl));
  if (nl != std::string_view::npos) req.body = std::string(input.substr(nl + 1));

  (void)http::is_multipart(req);
  for (const std::size_t max_parts : {std::size_t{8}, std::size_t{16}}) {
    auto parts = http::parse_multipart(req, max_parts);
    if (!parts) {
      check_error(parts.error(), input);
      continue;
    }
    if (parts->size() > max_parts) broken("more parts than allowed", input);
    for (const auto& p : *parts) {
      if (p.data.size() > req.body.size()) broken("a part larger than the body", input);
      if (!p.data.empty() && req.body.find(p.data) == std::string::npos) {
        broken("a part's data is not a piece of the body", input);
      }
      if (p.has_filename) check_file_name(p.filename);
      (void)domain::sniff_file_type(p.data, domain::sanitize_file_name(p.filename));
    }
    if (max_parts != 16) continue;
    api::company_input::BatchInput batch;
    api::company_input::read_multipart_batch(*parts, batch);
    if (!batch.problems.empty()) check_error(ApiError::validation("fuzz", batch.problems), input);
    if (batch.items.size() != batch.labels.size()) broken("labels and items differ", input);
  }
  return 0;
}
