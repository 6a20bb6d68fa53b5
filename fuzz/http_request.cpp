// Raw bytes on a connection -> Beast's request parser with the session's limits -> evald's
// Request -> the router over the real route table -> the dispatcher (request id, CORS and error
// barrier layers, handlers replaced by a stub) -> the response head on the wire.
//
// Each input is one connection: requests are read one after another while they keep the
// connection alive, the way net/server.cpp serves them, in reads of a size that varies with the
// input. It runs twice: with the default limits and with tight ones (a 512-byte head, a 64-byte
// body), so that both the limit paths and long inputs are covered.
//
// Properties: no crash or UB; a route found by the trie is the one a plain scan of the table
// picks (static segments before parameters); path parameters are non-empty and NUL-free; an
// answer 405 carries Allow; every response head evald writes (early rejections included)
// parses back as one HTTP response with exactly the fields it was given; error bodies are JSON.

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "api/routes.hpp"
#include "app/app_context.hpp"
#include "common/scratch.hpp"
#include "core/ids.hpp"
#include "http/dispatcher.hpp"
#include "http/error_body.hpp"
#include "http/router.hpp"
#include "log/log.hpp"
#include "middleware/middleware.hpp"
#include "net/request_head.hpp"

namespace {

using namespace evald;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using fuzz::broken;

// The fuzz input as a socket that yields it in reads of at most `chunk` bytes, then EOF.
class InputStream {
 public:
  InputStream(std::string_view data, std::size_t chunk) : data_(data), chunk_(chunk) {}

  template <class Buffers>
  std::size_t read_some(const Buffers& buffers, boost::system::error_code& ec) {
    if (data_.empty()) {
      ec = asio::error::eof;
      return 0;
    }
    ec = {};
    const std::size_t n =
        asio::buffer_copy(buffers, asio::buffer(data_.data(), std::min(chunk_, data_.size())));
    data_.remove_prefix(n);
    return n;
  }
  template <class Buffers>
  std::size_t read_some(const Buffers& buffers) {
    boost::system::error_code ec;
    const auto n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  std::string_view data_;
  std::size_t chunk_;
};

struct Target {
  Settings settings;
  Settings tight;
  std::unique_ptr<AppContext> app;
  std::vector<http::RouteSpec> routes;                   // the real table, handlers stubbed
  std::vector<std::vector<std::string_view>> templates;  // each route's path, split
  std::shared_ptr<const http::Router> router;
  std::unique_ptr<http::Dispatcher> dispatcher;
};

Target* target = nullptr;

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t pos = 1;
  for (;;) {
    const auto next = path.find('/', pos);
    out.push_back(path.substr(pos, next == std::string_view::npos ? next : next - pos));
    if (next == std::string_view::npos) return out;
    pos = next + 1;
  }
}

bool is_param(std::string_view seg) {
  return seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
}

// The path template a plain scan picks: of the templates the path fits, the one with a static
// segment where the others have a parameter, leftmost first. Empty when none fits.
std::string reference_template(std::string_view path) {
  if (path.empty() || path.front() != '/') return {};
  const auto segs = segments(path);
  const std::vector<std::string_view>* best = nullptr;
  const auto& tmpl_segs = target->templates;
  std::string best_path;
  for (std::size_t i = 0; i < target->routes.size(); ++i) {
    const auto& t = tmpl_segs[i];
    if (t.size() != segs.size()) continue;
    bool fits = true;
    for (std::size_t k = 0; k < t.size() && fits; ++k) {
      if (is_param(t[k])) {
        std::string decoded;
        fits = !segs[k].empty() && http::percent_decode(segs[k], decoded);
      } else {
        fits = t[k] == segs[k];
      }
    }
    if (!fits) continue;
    bool better = best == nullptr;
    for (std::size_t k = 0; !better && k < t.size(); ++k) {
      const bool p_new = is_param(t[k]), p_old = is_param((*best)[k]);
      if (p_new != p_old) {
        better = !p_new;
        break;
      }
    }
    if (better) {
      best = &t;
      best_path = target->routes[i].path;
    }
  }
  return best_path;
}

void check_route(const http::Request& req) {
  const auto m = target->router->match(req.method, req.path);
  const std::string want = reference_template(req.path);
  const std::string context = req.method + " " + req.path;
  if (m.route) {
    if (m.route->path != want) {
      broken("the router picked " + m.route->path + ", a scan picks " + want, context);
    }
    if (m.route->method != req.method && !(req.method == "HEAD" && m.route->method == "GET")) {
      broken("the router picked a route of another method", context);
    }
    std::size_t params = 0;
    for (auto seg : segments(m.route->path)) params += is_param(seg) ? 1 : 0;
    if (m.params.size() != params) broken("path parameters missing", context);
    for (const auto& [k, v] : m.params) {
      if (v.empty() || v.find('\0') != std::string::npos) {
        broken("a path parameter is empty or holds NUL", context);
      }
    }
  } else if (!m.allow.empty()) {
    if (want.empty()) broken("405 for a path no template fits", context);
  } else if (!want.empty()) {
    // The path fits a template: then only the method can be wrong, which is a 405.
    broken("404 for a path the template " + want + " fits", context);
  }
}

// The head evald writes must read back as one response with the same fields.
void check_wire(const http::Response& res, unsigned version, bool keep_alive) {
  const std::string head = net::serialize_head(res, version, keep_alive);
  bhttp::response_parser<bhttp::empty_body> p;
  p.skip(true);  // the head only
  boost::system::error_code ec;
  const auto n = p.put(asio::buffer(head), ec);
  if (ec || !p.is_header_done() || n != head.size()) {
    broken("a response head does not parse back: " + ec.message(), head);
  }
  std::size_t fields = 0;
  for (auto it = p.get().begin(); it != p.get().end(); ++it) ++fields;
  std::size_t expected = res.headers.fields().size() + 2;  // Date, Server
  if (res.status != 204 && res.status != 304 && res.status >= 200) ++expected;
  if (!keep_alive || version == 10) ++expected;
  if (fields != expected) broken("a response head has other fields than it was given", head);
  if (p.get().result_int() != res.status) broken("a response head has another status", head);
}

void check_error_body(const ApiError& error, std::string_view request_id) {
  const auto body =
      http::render_error_body(error, request_id, std::chrono::system_clock::now(), false);
  if (!fuzz::is_valid_json(body)) broken("an error body is not valid JSON", body);
}

// What the session answers itself (server.cpp's session_error), checked instead of sent.
void early_reply(ApiError error, const net::RequestParser* parser) {
  std::string request_id = "fuzz-generated-id";
  if (parser && parser->is_header_done()) {
    auto given = parser->get()[std::string_view("X-Request-ID")];
    if (is_sane_request_id(given)) request_id = std::string(given);
  }
  check_error_body(error, request_id);
  http::Response res = http::Response::from_error(std::move(error));
  res.headers.set("X-Request-ID", request_id);
  check_wire(res, 11, false);
}

http::Response dispatch(http::Request& req) {
  asio::io_context ioc(1);
  std::optional<http::Response> out;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<http::Response> {
        http::RequestContext ctx;
        ctx.peer_ip = ctx.client_ip = "127.0.0.1";
        co_return co_await target->dispatcher->dispatch(req, ctx);
      },
      [&](std::exception_ptr e, http::Response r) {
        if (e) broken("the dispatcher threw (the error barrier should have caught it)");
        out = std::move(r);
      });
  ioc.run();
  if (!out) broken("the dispatcher did not complete");
  return std::move(*out);
}

void serve_connection(std::string_view data, const Settings& settings) {
  const ServerSettings& s = settings.server;
  InputStream stream(data, 1 + (data.size() * 7919) % 1500);
  beast::flat_buffer buffer;
  for (int served = 0; served < 16; ++served) {
    net::RequestParser parser;
    net::prepare_parser(parser, s);
    boost::system::error_code ec;
    bhttp::read_header(stream, buffer, parser, ec);
    if (ec) {
      if (!net::is_quiet_close(ec)) early_reply(net::head_error(ec), nullptr);
      return;
    }
    if (auto bad = net::check_head(parser, s)) {
      early_reply(std::move(*bad), &parser);
      return;
    }
    if (!parser.is_done()) {
      bhttp::read(stream, buffer, parser, ec);
      if (ec) {
        if (auto bad = net::body_error(ec, s)) early_reply(std::move(*bad), &parser);
        return;
      }
    }
    http::Request req = net::to_request(parser.release());
    if (req.path.empty() || req.path.front() != '/') broken("a request path is not absolute");
    check_route(req);
    http::Response res = dispatch(req);
    if (res.status == 405 && !res.headers.has("Allow")) broken("405 without Allow", req.target);
    if (res.error) check_error_body(*res.error, "fuzz-request-id");
    if (!res.error && res.status >= 500) broken("5xx without an error", req.target);
    check_wire(res, req.version, req.keep_alive);
    if (!req.keep_alive) return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  target = new Target;
  target->settings = fuzz::scratch_settings();
  log::init(target->settings.log);
  target->tight = target->settings;
  target->tight.server.max_header_bytes = 512;
  target->tight.server.max_body_bytes = 64;
  target->app = std::make_unique<AppContext>(target->settings);
  target->routes = api::all_routes(*target->app);
  for (auto& r : target->routes) {
    r.handler = [](http::Request&, http::RequestContext&) -> asio::awaitable<http::Response> {
      co_return http::Response::json(200, "{}");
    };
  }
  for (const auto& r : target->routes) target->templates.push_back(segments(r.path));
  target->router = std::make_shared<const http::Router>(target->routes);
  std::vector<std::unique_ptr<http::Middleware>> chain;
  chain.push_back(middleware::make_request_id(target->app->clock, false));
  chain.push_back(middleware::make_cors(target->settings.server.cors_origins));
  chain.push_back(middleware::make_error_barrier());
  auto pipeline = std::make_shared<const http::Pipeline>(std::move(chain),
                                                         std::make_unique<http::RouteTerminal>());
  target->dispatcher = std::make_unique<http::Dispatcher>(target->router, std::move(pipeline));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  serve_connection(input, target->settings);
  serve_connection(input, target->tight);
  return 0;
}
