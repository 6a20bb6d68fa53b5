#pragma once
/// Path-template router: a trie of path segments with one parameter child per node.
/// Built once at start-up, then read concurrently by every I/O thread without locks.

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/route.hpp"

namespace evald::http {

struct RouteMatch {
  const RouteSpec* route = nullptr;  ///< null: 404 (allow empty) or 405 (allow set)
  std::vector<std::pair<std::string, std::string>> params;
  std::string allow;  ///< "GET, HEAD, POST" when the path exists but not for this method
};

class Router {
 public:
  /// Throws std::invalid_argument on a malformed template or a duplicate method and path.
  explicit Router(std::vector<RouteSpec> routes);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  /// `path` is the raw path (percent-encoded); parameters come back decoded.
  RouteMatch match(std::string_view method, std::string_view path) const;
  const std::vector<RouteSpec>& routes() const { return routes_; }

 private:
  struct Node;
  std::vector<RouteSpec> routes_;
  std::unique_ptr<Node> root_;
};

/// Decodes %XX escapes; false when an escape is malformed or decodes to NUL, or the result is
/// not valid UTF-8.
bool percent_decode(std::string_view in, std::string& out);

}  // namespace evald::http
