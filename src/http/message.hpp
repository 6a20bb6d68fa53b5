#pragma once
/// Request and Response as plain value types: no Beast in these headers, so that handlers and
/// middleware compile quickly. The session converts to and from the wire.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace evald {
class FileBody;
}

namespace evald::http {

/// Case-insensitive ASCII comparison of header names.
bool iequals(std::string_view a, std::string_view b);

class Headers {
 public:
  using Field = std::pair<std::string, std::string>;

  /// The first value of `name`, if present.
  std::optional<std::string_view> get(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  /// Replaces every value of `name`.
  void set(std::string_view name, std::string_view value);
  /// Adds a value, keeping earlier ones (Vary, Set-Cookie).
  void add(std::string_view name, std::string_view value);
  void erase(std::string_view name);

  const std::vector<Field>& fields() const { return fields_; }
  void reserve(std::size_t n) { fields_.reserve(n); }

 private:
  std::vector<Field> fields_;
};

struct Request {
  std::string method;  ///< upper case, as sent ("GET")
  std::string target;  ///< raw request target ("/a/b?x=1")
  std::string path;    ///< target before '?', percent-encoding kept
  std::string query;   ///< after '?', without it
  unsigned version = 11;
  bool keep_alive = true;
  Headers headers;
  std::string body;
};

struct Response {
  unsigned status = 200;
  Headers headers;
  std::string body;
  /// When set, the body is this file instead of `body` (which stays empty): the session sends
  /// it in chunks read off the event loop, with its size as Content-Length.
  std::shared_ptr<const FileBody> file;
  /// Set when the response is an error: rendered once into `body` by the request-id layer,
  /// which knows the request id. Middleware reads it to count and log by code.
  std::optional<ApiError> error;

  static Response json(unsigned status, std::string body);
  static Response from_error(ApiError error);
};

}  // namespace evald::http
