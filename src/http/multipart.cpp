#include "http/multipart.hpp"

#include <boost/url/decode_view.hpp>

namespace evald::http {
namespace {

constexpr std::size_t kMaxPartHeaderBytes = 8 * 1024;

ApiError malformed(std::string why) {
  return ApiError::validation(
      "Malformed multipart body",
      {FieldError{"body", std::move(why), "value_error.multipart", std::nullopt}});
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits "a; b=c; d=\"e;f\"" into its parameters, honouring quotes; the first item is the value.
std::vector<std::pair<std::string, std::string>> header_params(std::string_view v) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t i = 0;
  bool first = true;
  while (i <= v.size()) {
    std::string key;
    std::string value;
    bool in_key = !first;
    // Read up to ';' outside quotes.
    std::string token;
    bool quoted = false;
    bool was_quoted = false;
    for (; i < v.size(); ++i) {
      const char c = v[i];
      if (quoted) {
        if (c == '\\' && i + 1 < v.size()) {
          token += v[++i];
        } else if (c == '"') {
          quoted = false;
        } else {
          token += c;
        }
      } else if (c == '"') {
        quoted = true;
        was_quoted = true;
      } else if (c == ';') {
        break;
      } else if (c == '=' && in_key && key.empty()) {
        key = std::string(trim(token));
        token.clear();
      } else {
        token += c;
      }
    }
    ++i;  // past ';'
    if (first) {
      out.emplace_back("", std::string(trim(token)));
      first = false;
    } else if (!key.empty()) {
      for (auto& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      out.emplace_back(key, was_quoted ? token : std::string(trim(token)));
    }
  }
  return out;
}

}  // namespace

bool is_multipart(const Request& req) {
  const auto ct = req.headers.get("Content-Type").value_or("");
  const auto params = header_params(ct);
  return !params.empty() && iequals(params[0].second, "multipart/form-data");
}

const FormPart* find_part(const std::vector<FormPart>& parts, std::string_view name) {
  for (const auto& p : parts) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

Result<std::vector<FormPart>> parse_multipart(const Request& req, std::size_t max_parts) {
  const auto params = header_params(req.headers.get("Content-Type").value_or(""));
  if (params.empty() || !iequals(params[0].second, "multipart/form-data")) {
    return ApiError::validation("Expected a multipart/form-data body",
                                {FieldError{"Content-Type", "Must be multipart/form-data",
                                            "value_error.content_type", std::nullopt}});
  }
  std::string boundary;
  for (const auto& [k, v] : params) {
    if (k == "boundary") boundary = v;
  }
  if (boundary.empty() || boundary.size() > 70) {
    return malformed("The Content-Type has no valid boundary");
  }
  const std::string_view body = req.body;
  const std::string delim = "--" + boundary;
  // The first delimiter: at the start, or after a preamble ending in CRLF.
  std::size_t pos = 0;
  if (body.substr(0, delim.size()) != delim) {
    const auto at = body.find("\r\n" + delim);
    if (at == std::string_view::npos) return malformed("No part starts with the boundary");
    pos = at + 2;
  }
  const std::string next_delim = "\r\n" + delim;
  std::vector<FormPart> parts;
  while (true) {
    pos += delim.size();
    if (body.substr(pos, 2) == "--") return parts;  // the close delimiter
    // Transport padding, then CRLF.
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (body.substr(pos, 2) != "\r\n") return malformed("A boundary line is not followed by CRLF");
    pos += 2;
    const auto head_end = body.find("\r\n\r\n", pos);
    if (head_end == std::string_view::npos && body.substr(pos, 2) != "\r\n") {
      return malformed("A part's headers do not end");
    }
    std::string_view head;
    std::size_t data_start = 0;
    if (body.substr(pos, 2) == "\r\n") {  // no headers at all
      data_start = pos + 2;
    } else {
      head = body.substr(pos, head_end - pos);
      data_start = head_end + 4;
    }
    if (head.size() > kMaxPartHeaderBytes) return malformed("A part's headers are too large");
    const auto end = body.find(next_delim, data_start);
    if (end == std::string_view::npos) return malformed("A part does not end with the boundary");
    if (parts.size() >= max_parts) {
      return malformed("At most " + std::to_string(max_parts) + " parts");
    }
    FormPart part;
    bool disposition = false;
    std::size_t line_start = 0;
    while (line_start <= head.size() && !head.empty()) {
      auto line_end = head.find("\r\n", line_start);
      if (line_end == std::string_view::npos) line_end = head.size();
      const auto line = head.substr(line_start, line_end - line_start);
      line_start = line_end + 2;
      const auto colon = line.find(':');
      if (colon == std::string_view::npos) return malformed("A part header has no colon");
      const auto name = trim(line.substr(0, colon));
      const auto value = trim(line.substr(colon + 1));
      if (iequals(name, "Content-Disposition")) {
        const auto p = header_params(value);
        if (p.empty() || !iequals(p[0].second, "form-data")) {
          return malformed("A part's Content-Disposition is not form-data");
        }
        disposition = true;
        std::string filename_star;
        for (const auto& [k, v] : p) {
          if (k == "name") part.name = v;
          if (k == "filename") {
            part.filename = v;
            part.has_filename = true;
          }
          if (k == "filename*") filename_star = v;
        }
        // RFC 5987: UTF-8''percent-encoded; preferred over the plain name when well formed.
        constexpr std::string_view kUtf8 = "utf-8''";
        if (filename_star.size() > kUtf8.size() &&
            iequals(std::string_view(filename_star).substr(0, kUtf8.size()), kUtf8)) {
          const auto encoded = std::string_view(filename_star).substr(kUtf8.size());
          if (auto dv = boost::urls::make_pct_string_view(encoded)) {
            part.filename = std::string(dv->decode());
            part.has_filename = true;
          }
        }
      } else if (iequals(name, "Content-Type")) {
        part.content_type = std::string(value);
      }
    }
    if (!disposition) return malformed("A part has no Content-Disposition");
    part.data = std::string(body.substr(data_start, end - data_start));
    parts.push_back(std::move(part));
    pos = end + 2;
  }
}

}  // namespace evald::http
