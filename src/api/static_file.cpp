#include "api/static_file.hpp"

#include "core/ids.hpp"

namespace evald::api {

StaticFile StaticFile::make(std::string content_type, std::string body) {
  std::string etag = "\"" + sha256_hex(body).substr(0, 20) + "\"";
  return StaticFile{std::move(content_type), std::move(body), std::move(etag)};
}

http::Response serve_static(const StaticFile& file, const http::Request& req,
                            const char* cache_control) {
  http::Response res;
  res.headers.set("ETag", file.etag);
  res.headers.set("Cache-Control", cache_control);
  // A list of tags (or a weak one, W/"...") still names this file.
  const auto given = req.headers.get("If-None-Match");
  if (given && given->find(file.etag) != std::string_view::npos) {
    res.status = 304;
    return res;
  }
  res.status = 200;
  res.headers.set("Content-Type", file.content_type);
  res.body = file.body;
  return res;
}

}  // namespace evald::api
