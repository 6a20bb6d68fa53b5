#pragma once
/// multipart/form-data bodies (RFC 7578): uploads and CSV imports. The parts are copied out of
/// the request body; their sizes are bounded by MAX_BODY_BYTES, which the session enforces.

#include <string>
#include <vector>

#include "core/result.hpp"
#include "http/message.hpp"

namespace evald::http {

struct FormPart {
  std::string name;      ///< the form field's name
  std::string filename;  ///< as the client sent it (untrusted; may be empty)
  bool has_filename = false;
  std::string content_type;  ///< as the client declared it (untrusted; may be empty)
  std::string data;
};

/// True when the request's content type is multipart/form-data.
bool is_multipart(const Request& req);

/// The parts in order. 400 VALIDATION_ERROR when the content type is not multipart/form-data
/// with a boundary, the body is not well formed, or it has more than `max_parts` parts.
Result<std::vector<FormPart>> parse_multipart(const Request& req, std::size_t max_parts = 16);

/// The first part named `name`, or null.
const FormPart* find_part(const std::vector<FormPart>& parts, std::string_view name);

}  // namespace evald::http
