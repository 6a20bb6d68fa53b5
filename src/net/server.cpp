#include "net/server.hpp"

#include <array>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <csignal>
#include <ctime>
#include <limits>
#include <optional>
#include <thread>
#include <unordered_set>

#include "core/file_body.hpp"
#include "core/ids.hpp"
#include "core/scope_exit.hpp"
#include "http/error_body.hpp"
#include "http/security_headers.hpp"
#include "log/log.hpp"
#include "net/request_head.hpp"
#include "net/worker_pool.hpp"

namespace evald::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;

ServerState::ServerState(unsigned threads) : beats_(threads) {
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  for (auto& b : beats_) b.store(now);
}

void ServerState::beat(unsigned thread, std::chrono::steady_clock::time_point now) {
  beats_[thread].store(now.time_since_epoch().count(), std::memory_order_relaxed);
}

milliseconds ServerState::oldest_heartbeat_age(std::chrono::steady_clock::time_point now) const {
  long long oldest = now.time_since_epoch().count();
  for (const auto& b : beats_) oldest = std::min(oldest, b.load(std::memory_order_relaxed));
  return std::chrono::duration_cast<milliseconds>(now.time_since_epoch() -
                                                  std::chrono::steady_clock::duration(oldest));
}

namespace {

constexpr milliseconds kHeartbeatInterval{250};
constexpr milliseconds kDrainPollInterval{20};
constexpr milliseconds kLingerTimeout{1000};
constexpr std::size_t kLingerMaxBytes = 1 << 20;
constexpr milliseconds kAcceptBackoff{50};

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// The TCP layer under a plain or TLS stream: timeouts, shutdown and close act on it.
beast::tcp_stream& tcp_of(beast::tcp_stream& s) { return s; }
beast::tcp_stream& tcp_of(TlsStream& s) { return beast::get_lowest_layer(s); }

struct Connection {
  beast::tcp_stream* stream;
  bool idle = true;  ///< waiting for a request with nothing of it received before the wait
  bool displaced = false;
  std::chrono::steady_clock::time_point idle_since = std::chrono::steady_clock::now();
  unsigned served = 0;  ///< requests answered on this connection
};

struct ThreadCtx {
  explicit ThreadCtx(unsigned i) : index(i) {}
  unsigned index;
  std::unordered_set<Connection*> connections;  // declared before ioc: outlives its handlers
  asio::io_context ioc{1};
  std::optional<tcp::acceptor> acceptor;
};

// The Date header, formatted once a second per thread.
std::string_view http_date() {
  thread_local std::time_t last = 0;
  thread_local char buf[40];
  const std::time_t now = std::time(nullptr);
  if (now != last) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    last = now;
  }
  return buf;
}

void append_header_value(std::string& out, std::string_view v) {
  // A CR or LF in a value would split the response: drop them (values rarely have any).
  if (v.find('\r') == std::string_view::npos && v.find('\n') == std::string_view::npos) {
    out.append(v);
    return;
  }
  for (char c : v) {
    if (c != '\r' && c != '\n') out += c;
  }
}

}  // namespace

// The status line and headers; the body goes out beside them (no copy into one buffer).
std::string serialize_head(const http::Response& res, unsigned version, bool keep_alive) {
  std::string out;
  out.reserve(256 + 48 * res.headers.fields().size());
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(res.status);
  out += ' ';
  out += bhttp::obsolete_reason(static_cast<bhttp::status>(res.status));
  out += "\r\n";
  for (const auto& [k, v] : res.headers.fields()) {
    out += k;
    out += ": ";
    append_header_value(out, v);
    out += "\r\n";
  }
  out += "Date: ";
  out += http_date();
  out += "\r\nServer: evald\r\n";
  if (res.status != 204 && res.status != 304 && res.status >= 200) {
    out += "Content-Length: ";
    out += std::to_string(res.file ? res.file->size() : res.body.size());
    out += "\r\n";
  }
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (version == 10) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  return out;
}

namespace {

std::string serialize(const http::Response& res, unsigned version, bool keep_alive, bool head) {
  std::string out = serialize_head(res, version, keep_alive);
  if (!head) out += res.body;
  return out;
}

// TLS 1.2 and later with the certificate chain and key of the settings; throws with a clear
// message when they cannot be loaded.
std::shared_ptr<asio::ssl::context> make_tls_context(const ServerSettings& s) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(s.tls_cert_file, ec);
  if (ec) {
    throw std::runtime_error("TLS_CERT_FILE: cannot load " + s.tls_cert_file + ": " + ec.message());
  }
  ctx->use_private_key_file(s.tls_key_file, asio::ssl::context::pem, ec);
  if (ec) {
    throw std::runtime_error("TLS_KEY_FILE: cannot load " + s.tls_key_file + ": " + ec.message());
  }
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    throw std::runtime_error("TLS_KEY_FILE: key values mismatch with TLS_CERT_FILE");
  }
  return ctx;
}

class Service {
 public:
  Service(const Settings& settings, std::shared_ptr<const http::Dispatcher> dispatcher,
          std::shared_ptr<ServerState> state, WorkerPool& workers)
      : s_(settings.server),
        workers_(workers),
        development_(settings.environment == Environment::kDevelopment),
        tls_(!settings.server.tls_cert_file.empty()),
        tls_context_(tls_ ? make_tls_context(settings.server) : nullptr),
        dispatcher_(std::move(dispatcher)),
        state_(std::move(state)),
        log_(log::get("http")) {}

  asio::awaitable<void> accept_loop(ThreadCtx& tc) {
    for (;;) {
      auto [ec, socket] = co_await tc.acceptor->async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || !tc.acceptor->is_open()) co_return;
        // Out of descriptors and the like: back off instead of spinning.
        log_->warn("{}", log::Line("accept failed").kv("error", ec.message()));
        asio::steady_timer t(tc.ioc, kAcceptBackoff);
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      if (state_->open_connections.load(std::memory_order_relaxed) >=
          static_cast<long long>(s_.max_connections)) {
        if (!displace_longest_idle(tc)) {
          state_->refused_connections.fetch_add(1, std::memory_order_relaxed);
          boost::system::error_code ignored;
          socket.close(ignored);
          continue;
        }
        state_->displaced_connections.fetch_add(1, std::memory_order_relaxed);
      }
      start_session(tc, std::move(socket));
    }
  }

  // At the limit, a new client takes the place of the connection of this thread that has
  // waited longest for a request (as nginx reuses its idle keep-alive connections): otherwise
  // a crowd of connections that send nothing would keep every new client out until their head
  // timeout. False when every connection of the thread is busy with a request.
  bool displace_longest_idle(ThreadCtx& tc) {
    Connection* oldest = nullptr;
    for (Connection* c : tc.connections) {
      if (c->idle && !c->displaced && (!oldest || c->idle_since < oldest->idle_since)) {
        oldest = c;
      }
    }
    if (!oldest) return false;
    oldest->displaced = true;
    boost::system::error_code ignored;
    oldest->stream->socket().cancel(ignored);  // its read ends; the session closes
    return true;
  }

  void start_session(ThreadCtx& tc, tcp::socket socket) {
    state_->open_connections.fetch_add(1, std::memory_order_relaxed);
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(tc.ioc, session(std::move(socket), tc), [this](std::exception_ptr e) {
      state_->open_connections.fetch_sub(1, std::memory_order_relaxed);
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log_->error("{}", log::Line("session failed").kv("what", ex.what()));
        }
      }
    });
  }

  asio::awaitable<void> heartbeat(ThreadCtx& tc) {
    asio::steady_timer timer(tc.ioc);
    for (;;) {
      state_->beat(tc.index, std::chrono::steady_clock::now());
      log::flush_thread();
      timer.expires_after(kHeartbeatInterval);
      auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
    }
  }

 private:
  // A response produced by the session itself (the request never reached the pipeline).
  std::string session_error(ApiError error, const bhttp::request_parser<bhttp::string_body>* parser,
                            std::string_view peer) {
    std::string request_id;
    if (parser && parser->is_header_done()) {
      auto given = parser->get()[std::string_view("X-Request-ID")];
      if (is_sane_request_id(given)) request_id = std::string(given);
    }
    if (request_id.empty()) request_id = new_request_id();
    log_->info("{}", log::Line("request rejected")
                         .kv("request_id", request_id)
                         .kv("status", error.status())
                         .kv("error_code", error_info(error.code).code)
                         .kv("reason", error.message)
                         .kv("client_ip", peer));
    if (state_->on_early_reply) {
      std::string_view method;
      if (parser && parser->is_header_done()) method = parser->get().method_string();
      state_->on_early_reply(method, error.status(), error.code);
    }
    http::Response res = http::Response::from_error(std::move(error));
    res.body = http::render_error_body(*res.error, request_id, std::chrono::system_clock::now(),
                                       development_);
    res.headers.set("X-Request-ID", request_id);
    http::apply_security_headers(res, tls_, false);
    return serialize(res, 11, false, false);
  }

  // Send an error and close without resetting the connection, so the client reads the reply.
  template <class Stream>
  asio::awaitable<void> reply_and_close(Stream& stream, std::string wire) {
    tcp_of(stream).expires_after(milliseconds(s_.write_timeout_ms));
    auto [ec, n] =
        co_await asio::async_write(stream, asio::buffer(wire), asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      co_return;  // the session sends close_notify as it ends
    } else {
      boost::system::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
      stream.expires_after(kLingerTimeout);
      std::array<char, 16384> sink{};
      std::size_t drained = 0;
      while (drained < kLingerMaxBytes) {
        auto [rec, got] = co_await stream.async_read_some(asio::buffer(sink),
                                                          asio::as_tuple(asio::use_awaitable));
        if (rec) break;
        drained += got;
      }
    }
  }

  asio::awaitable<void> session(tcp::socket socket, ThreadCtx& tc) {
    boost::system::error_code peer_ec;
    const auto peer = socket.remote_endpoint(peer_ec);
    const std::string peer_ip = peer_ec ? std::string("unknown") : peer.address().to_string();
    if (!tls_context_) {
      beast::tcp_stream stream(std::move(socket));
      co_await serve(stream, tc, peer_ip);
      boost::system::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream.socket().close(ignored);
      co_return;
    }
    TlsStream stream(std::move(socket), *tls_context_);
    tcp_of(stream).expires_after(milliseconds(s_.header_timeout_ms));
    auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::server,
                                                 asio::as_tuple(asio::use_awaitable));
    if (!hec) {
      co_await serve(stream, tc, peer_ip);
      // close_notify, briefly: a client that has gone does not hold the session.
      tcp_of(stream).expires_after(kLingerTimeout);
      auto [sec] = co_await stream.async_shutdown(asio::as_tuple(asio::use_awaitable));
      (void)sec;
    } else {
      state_->tls_handshake_failures.fetch_add(1, std::memory_order_relaxed);
      log_->debug(
          "{}",
          log::Line("TLS handshake failed").kv("client_ip", peer_ip).kv("error", hec.message()));
    }
    boost::system::error_code ignored;
    tcp_of(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp_of(stream).socket().close(ignored);
  }

  // The requests of one connection, until it closes, fails or is told to stop.
  template <class Stream>
  asio::awaitable<void> serve(Stream& stream, ThreadCtx& tc, const std::string& peer_ip) {
    Connection conn{&tcp_of(stream)};
    tc.connections.insert(&conn);
    const ScopeExit unregister([&] { tc.connections.erase(&conn); });

    beast::flat_buffer buffer;
    for (;;) {
      // While draining, a kept-alive connection is closed between requests; a new connection
      // still gets its first request answered (with Connection: close).
      if (state_->draining() && conn.served > 0) break;
      if (conn.displaced) break;
      bhttp::request_parser<bhttp::string_body> parser;
      prepare_parser(parser, s_);

      conn.idle = buffer.size() == 0;
      conn.idle_since = std::chrono::steady_clock::now();
      tcp_of(stream).expires_after(
          milliseconds(conn.served == 0 ? s_.header_timeout_ms : s_.idle_timeout_ms));
      auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser,
                                                       asio::as_tuple(asio::use_awaitable));
      conn.idle = false;
      if (ec) {
        if (is_quiet_close(ec)) break;
        co_await reply_and_close(stream, session_error(head_error(ec), nullptr, peer_ip));
        break;
      }
      if (auto bad = check_head(parser, s_)) {
        co_await reply_and_close(stream, session_error(std::move(*bad), &parser, peer_ip));
        break;
      }
      if (!parser.is_done()) {
        if (http::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          tcp_of(stream).expires_after(milliseconds(s_.write_timeout_ms));
          auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(kContinue),
                                                      asio::as_tuple(asio::use_awaitable));
          if (wec) break;
        }
        tcp_of(stream).expires_after(milliseconds(s_.body_timeout_ms));
        auto [bec, bn] =
            co_await bhttp::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
        if (bec) {
          if (auto bad = body_error(bec, s_)) {
            co_await reply_and_close(stream, session_error(std::move(*bad), &parser, peer_ip));
          }
          break;
        }
      }

      http::Request req = to_request(parser.release());

      http::RequestContext ctx;
      ctx.start = std::chrono::steady_clock::now();
      ctx.peer_ip = peer_ip;
      ctx.client_ip = peer_ip;
      ctx.tls = tls_;
      ctx.thread_index = tc.index;

      state_->in_flight_requests.fetch_add(1, std::memory_order_relaxed);
      http::Response res = co_await dispatcher_->dispatch(req, ctx);
      state_->in_flight_requests.fetch_sub(1, std::memory_order_relaxed);
      ++conn.served;

      http::apply_security_headers(res, tls_, ctx.authenticated);
      const bool keep = req.keep_alive && !state_->draining();
      const std::string head = serialize_head(res, req.version, keep);
      const bool head_only = req.method == "HEAD";
      const asio::const_buffer body = head_only ? asio::const_buffer() : asio::buffer(res.body);
      tcp_of(stream).expires_after(milliseconds(s_.write_timeout_ms));
      boost::system::error_code wec;
      if constexpr (std::is_same_v<Stream, TlsStream>) {
        // One buffer per write: the TLS stream stalled on a large body given as the second
        // buffer of a sequence. The head is small; the records are what cost.
        std::tie(wec, std::ignore) = co_await asio::async_write(
            stream, asio::buffer(head), asio::as_tuple(asio::use_awaitable));
        if (!wec && body.size() > 0) {
          std::tie(wec, std::ignore) =
              co_await asio::async_write(stream, body, asio::as_tuple(asio::use_awaitable));
        }
      } else {
        const std::array<asio::const_buffer, 2> wire{asio::buffer(head), body};
        std::tie(wec, std::ignore) =
            co_await asio::async_write(stream, wire, asio::as_tuple(asio::use_awaitable));
      }
      if (wec) break;
      if (res.file && !head_only) {
        const bool sent = co_await send_file(stream, *res.file);
        if (!sent) break;
      }
      if (!keep) break;
    }
  }

  // The file body in chunks, each read on the worker pool and written within the write
  // timeout. False when the connection must close: the client stalled or went away, or the file
  // could not be read (the head promised its length, so only closing tells the client).
  template <class Stream>
  asio::awaitable<bool> send_file(Stream& stream, const FileBody& file) {
    constexpr std::size_t kChunk = 64 * 1024;
    std::string buf(kChunk, '\0');
    std::uint64_t sent = 0;
    while (sent < file.size()) {
      auto got = co_await workers_.run([&] { return file.read_at(sent, buf.data(), kChunk); });
      if (!got || *got == 0) {
        log_->error("{}", log::Line("file body read failed; closing the connection")
                              .kv("sent", sent)
                              .kv("size", file.size()));
        co_return false;
      }
      tcp_of(stream).expires_after(milliseconds(s_.write_timeout_ms));
      auto [ec, n] = co_await asio::async_write(stream, asio::buffer(buf.data(), *got),
                                                asio::as_tuple(asio::use_awaitable));
      if (ec) co_return false;
      sent += n;
    }
    co_return true;
  }

 public:
  // Draining: take every connection the kernel has already completed, then stop listening,
  // so that a client whose connect succeeded is answered rather than reset.
  void stop_accepting(ThreadCtx& tc) {
    if (!tc.acceptor) return;
    boost::system::error_code ec;
    tc.acceptor->non_blocking(true, ec);
    for (;;) {
      tcp::socket socket(tc.ioc);
      tc.acceptor->accept(socket, ec);
      if (ec) break;
      start_session(tc, std::move(socket));
    }
    tc.acceptor->close(ec);
    for (Connection* c : tc.connections) {
      if (c->idle && c->served > 0) c->stream->socket().cancel(ec);
    }
  }

 private:
  const ServerSettings& s_;
  bool development_;
  bool tls_;
  std::shared_ptr<asio::ssl::context> tls_context_;
  WorkerPool& workers_;
  std::shared_ptr<const http::Dispatcher> dispatcher_;
  std::shared_ptr<ServerState> state_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace

struct Server::Impl {
  Impl(const Settings& s, std::shared_ptr<const http::Dispatcher> d,
       std::shared_ptr<ServerState> st, WorkerPool& workers)
      : settings(s), state(st), service(s, std::move(d), st, workers), log(log::get("http")) {
    for (unsigned i = 0; i < s.server.threads; ++i)
      threads.push_back(std::make_unique<ThreadCtx>(i));
  }

  void begin_drain() {
    if (draining_started) return;
    draining_started = true;
    state->set_draining();
    log->info("{}", log::Line("draining")
                        .kv("open_connections", state->open_connections.load())
                        .kv("drain_timeout_ms", settings.server.drain_timeout_ms));
    for (auto& tc : threads) {
      asio::post(tc->ioc, [this, t = tc.get()] { service.stop_accepting(*t); });
    }
    deadline = std::chrono::steady_clock::now() + milliseconds(settings.server.drain_timeout_ms);
    poll_drain();
  }

  void poll_drain() {
    const bool done = state->open_connections.load() == 0;
    if (done || std::chrono::steady_clock::now() >= deadline) {
      if (!done) {
        log->warn("{}", log::Line("drain timeout; closing remaining connections")
                            .kv("open_connections", state->open_connections.load()));
      }
      for (auto& tc : threads) tc->ioc.stop();
      control.stop();
      return;
    }
    drain_timer.expires_after(kDrainPollInterval);
    drain_timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) poll_drain();
    });
  }

  const Settings& settings;
  std::shared_ptr<ServerState> state;
  Service service;
  std::shared_ptr<spdlog::logger> log;
  std::vector<std::unique_ptr<ThreadCtx>> threads;
  asio::io_context control{1};
  asio::steady_timer drain_timer{control};
  bool draining_started = false;
  std::function<void()> reload;
  std::chrono::steady_clock::time_point deadline{};
};

Server::Server(const Settings& settings, std::shared_ptr<const http::Dispatcher> dispatcher,
               std::shared_ptr<ServerState> state, WorkerPool& workers)
    : impl_(std::make_unique<Impl>(settings, std::move(dispatcher), std::move(state), workers)) {}

Server::~Server() = default;

void Server::bind() {
  const auto& s = impl_->settings.server;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(s.host == "localhost" ? "127.0.0.1" : s.host, ec);
  if (ec) throw std::system_error(ec, "HOST '" + s.host + "' is not an IP address");
  const tcp::endpoint endpoint(address, s.port);
  for (auto& tc : impl_->threads) {
    tcp::acceptor acceptor(tc->ioc);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
    acceptor.bind(endpoint, ec);
    if (ec) {
      throw std::system_error(ec, "cannot listen on " + s.host + ":" + std::to_string(s.port));
    }
    acceptor.listen(asio::socket_base::max_listen_connections);
    tc->acceptor.emplace(std::move(acceptor));
  }
}

void Server::run() {
  auto& impl = *impl_;
  asio::signal_set signals(impl.control, SIGINT, SIGTERM);
  signals.async_wait([&impl](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    impl.log->info("{}", log::Line("signal received").kv("signal", sig));
    impl.begin_drain();
  });
  asio::signal_set hangups(impl.control);
  std::function<void()> wait_hangup = [&] {
    hangups.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      impl.log->info("{}", log::Line("signal received").kv("signal", SIGHUP));
      impl.reload();
      wait_hangup();
    });
  };
  if (impl.reload) {
    hangups.add(SIGHUP);
    wait_hangup();
  }
  auto guard = asio::make_work_guard(impl.control);
  impl.state->request_stop = [this] { request_stop(); };

  std::vector<std::thread> workers;
  for (auto& tc : impl.threads) {
    asio::co_spawn(tc->ioc, impl.service.accept_loop(*tc), asio::detached);
    asio::co_spawn(tc->ioc, impl.service.heartbeat(*tc), asio::detached);
    workers.emplace_back([t = tc.get()] {
      t->ioc.run();
      log::flush_thread();
    });
  }
  impl.log->info("{}", log::Line("listening")
                           .kv("host", impl.settings.server.host)
                           .kv("port", static_cast<unsigned>(impl.settings.server.port))
                           .kv("threads", impl.settings.server.threads));
  impl.control.run();
  for (auto& w : workers) w.join();
  impl.state->request_stop = nullptr;
  impl.log->info("{}", log::Line("stopped"));
}

void Server::on_reload(std::function<void()> f) { impl_->reload = std::move(f); }

void Server::request_stop() {
  asio::post(impl_->control, [impl = impl_.get()] { impl->begin_drain(); });
}

}  // namespace evald::net
