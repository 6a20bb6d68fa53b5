#pragma once
/// Files the server serves from memory (the docs UI's assets, the status page): their bytes, type
/// and a strong ETag made once, and the answer to a GET with or without If-None-Match.

#include <string>

#include "http/message.hpp"

namespace evald::api {

struct StaticFile {
  std::string content_type;
  std::string body;
  std::string etag;  ///< quoted, from the content's SHA-256

  static StaticFile make(std::string content_type, std::string body);
};

/// 304 when If-None-Match names the file's ETag, else 200 with the bytes; both carry the ETag
/// and `cache_control`.
http::Response serve_static(const StaticFile& file, const http::Request& req,
                            const char* cache_control);

}  // namespace evald::api
