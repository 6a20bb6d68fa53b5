#include "http/router.hpp"

#include "core/json.hpp"

#include <stdexcept>

namespace evald::http {

struct Router::Node {
  std::vector<std::pair<std::string, std::unique_ptr<Node>>> statics;
  std::unique_ptr<Node> param;
  std::string param_name;
  std::vector<std::pair<std::string, const RouteSpec*>> methods;
  std::string allow;

  Node* static_child(std::string_view seg) const {
    for (const auto& [s, n] : statics) {
      if (s == seg) return n.get();
    }
    return nullptr;
  }
};

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segs;
  // "/" -> [""], "/a/b" -> ["a","b"], "/a/" -> ["a",""]
  std::size_t pos = 1;
  while (true) {
    const auto next = path.find('/', pos);
    if (next == std::string_view::npos) {
      segs.push_back(path.substr(pos));
      break;
    }
    segs.push_back(path.substr(pos, next - pos));
    pos = next + 1;
  }
  return segs;
}

bool is_param(std::string_view seg) {
  return seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = hex_value(in[i + 1]);
    const int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    const char c = static_cast<char>(hi * 16 + lo);
    if (c == '\0') return false;
    out += c;
    i += 2;
  }
  // Every id and login a parameter names is UTF-8 text: no stored record can match another
  // byte sequence, and PostgreSQL refuses to compare with one.
  return is_valid_utf8(out);
}

Router::Router(std::vector<RouteSpec> routes) : routes_(std::move(routes)), root_(new Node) {
  for (const auto& spec : routes_) {
    if (spec.path.empty() || spec.path.front() != '/') {
      throw std::invalid_argument("route path must start with '/': " + spec.path);
    }
    Node* node = root_.get();
    for (auto seg : split_path(spec.path)) {
      if (is_param(seg)) {
        const std::string name(seg.substr(1, seg.size() - 2));
        if (!node->param) {
          node->param = std::make_unique<Node>();
          node->param_name = name;
        } else if (node->param_name != name) {
          throw std::invalid_argument("conflicting parameter names at " + spec.path);
        }
        node = node->param.get();
      } else {
        if (seg.find_first_of("{}") != std::string_view::npos) {
          throw std::invalid_argument("malformed path template: " + spec.path);
        }
        Node* child = node->static_child(seg);
        if (!child) {
          node->statics.emplace_back(std::string(seg), std::make_unique<Node>());
          child = node->statics.back().second.get();
        }
        node = child;
      }
    }
    for (const auto& [m, r] : node->methods) {
      if (m == spec.method) throw std::invalid_argument("duplicate route " + m + " " + spec.path);
    }
    node->methods.emplace_back(spec.method, &spec);
  }
  // Precompute each node's Allow header value.
  std::vector<Node*> stack{root_.get()};
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const auto& [m, r] : n->methods) {
      n->allow += (n->allow.empty() ? "" : ", ") + m;
      if (m == "GET") n->allow += ", HEAD";
    }
    for (auto& [s, c] : n->statics) stack.push_back(c.get());
    if (n->param) stack.push_back(n->param.get());
  }
}

Router::~Router() = default;

namespace {

// Static segments win over parameters; on a dead end we backtrack and try the parameter.
template <class NodeT>
const NodeT* find_node(const NodeT* node, const std::vector<std::string_view>& segs, std::size_t i,
                       std::vector<std::pair<std::string, std::string>>& params) {
  if (i == segs.size()) return node->methods.empty() ? nullptr : node;
  if (const NodeT* child = node->static_child(segs[i])) {
    if (const NodeT* found = find_node(child, segs, i + 1, params)) return found;
  }
  if (node->param && !segs[i].empty()) {
    std::string decoded;
    if (!percent_decode(segs[i], decoded)) return nullptr;
    params.emplace_back(node->param_name, std::move(decoded));
    if (const NodeT* found = find_node(node->param.get(), segs, i + 1, params)) return found;
    params.pop_back();
  }
  return nullptr;
}

}  // namespace

RouteMatch Router::match(std::string_view method, std::string_view path) const {
  RouteMatch result;
  if (path.empty() || path.front() != '/') return result;
  const Node* node = find_node(root_.get(), split_path(path), 0, result.params);
  if (!node) return result;
  for (const auto& [m, r] : node->methods) {
    if (m == method) {
      result.route = r;
      return result;
    }
  }
  if (method == "HEAD") {
    for (const auto& [m, r] : node->methods) {
      if (m == "GET") {
        result.route = r;
        return result;
      }
    }
  }
  result.params.clear();
  result.allow = node->allow;
  return result;
}

}  // namespace evald::http
