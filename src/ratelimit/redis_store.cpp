#include "ratelimit/redis_store.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/container/small_vector.hpp>
#include <boost/url/parse.hpp>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstdio>
#include <string_view>

#include <arpa/inet.h>
#include <netdb.h>

#include "log/log.hpp"

namespace evald::ratelimit {
namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The shortest text that reads back as exactly `v` (Lua's tonumber parses it).
std::string num(double v) {
  char buf[40];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

template <class Rep, class Period>
std::string ms(std::chrono::duration<Rep, Period> d) {
  return std::to_string(std::chrono::duration_cast<milliseconds>(d).count());
}

// The Redis protocol's bulk string: "$<length>\r\n<bytes>\r\n".
void append_bulk_head(std::string& out, std::size_t size) {
  char digits[24];
  out.append(1, '$').append(digits, std::to_chars(digits, digits + sizeof digits, size).ptr);
  out.append("\r\n");
}
void append_bulk(std::string& out, std::string_view v) {
  append_bulk_head(out, v.size());
  out.append(v).append("\r\n");
}
template <std::integral T>
void append_bulk(std::string& out, T v) {
  char digits[24];
  append_bulk(out, std::string_view(digits, std::to_chars(digits, digits + sizeof digits, v).ptr));
}

/// A reply copied out of hiredis's memory.
struct Reply {
  int type = 0;
  long long integer = 0;
  std::string str;
  std::vector<Reply> elements;
};

Reply copy_reply(const redisReply* r) {
  Reply out;
  out.type = r->type;
  out.integer = r->integer;
  if (r->str) out.str.assign(r->str, r->len);
  for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(copy_reply(r->element[i]));
  return out;
}

// The distinct buckets of one call, numbered from 1 in the order first seen. An open-addressing
// table over a copy of the keys' text: once warm, numbering a key allocates nothing.
class KeyNumbers {
 public:
  /// A call holds at most this many distinct buckets (the table stays at most half full).
  static constexpr std::size_t kMax = 256;

  /// The key's number, and whether it is new to the call (call only while size() < kMax).
  std::pair<std::uint32_t, bool> number(std::string_view key) {
    if (slots_.empty()) slots_.resize(kSlots);
    const std::size_t hash = KeyHash{}(key);
    for (std::size_t i = hash & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      Slot& s = slots_[i];
      if (s.number == 0) {
        s = {hash, static_cast<std::uint32_t>(text_.size()), static_cast<std::uint32_t>(key.size()),
             ++count_};
        text_.append(key);
        used_.push_back(i);
        return {s.number, true};
      }
      if (s.hash == hash && std::string_view(text_).substr(s.at, s.size) == key) {
        return {s.number, false};
      }
    }
  }
  std::size_t size() const { return count_; }
  void clear() {
    for (auto i : used_) slots_[i] = Slot{};
    used_.clear();
    text_.clear();
    count_ = 0;
  }

 private:
  static constexpr std::size_t kSlots = 2 * kMax;
  struct Slot {
    std::size_t hash = 0;
    std::uint32_t at = 0, size = 0, number = 0;  // number 0: empty
  };
  std::vector<Slot> slots_;
  std::vector<std::size_t> used_;
  std::string text_;
  std::uint32_t count_ = 0;
};

std::atomic<std::uint64_t> g_next_store_id{1};

// A bucket's penalty box: "<bucket key>|p".
constexpr const char* kBoxSuffix = "|p";

struct ThreadConnection {
  std::uint64_t store_id = 0;
  RedisStore::Connection* connection = nullptr;
};
thread_local std::vector<ThreadConnection> t_connections;

// The commands a new connection sends first: AUTH and SELECT when the URL asks for them.
std::vector<std::vector<std::string>> handshake(const RedisEndpoint& e) {
  std::vector<std::vector<std::string>> out;
  if (!e.password.empty()) {
    if (e.username.empty()) {
      out.push_back({"AUTH", e.password});
    } else {
      out.push_back({"AUTH", e.username, e.password});
    }
  }
  if (e.db != 0) out.push_back({"SELECT", std::to_string(e.db)});
  return out;
}

void argv_of(const std::vector<std::string>& args, std::vector<const char*>& argv,
             std::vector<std::size_t>& lens) {
  argv.clear();
  lens.clear();
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
}

// The host's first address, resolved off the I/O threads (hiredis's asynchronous connect
// would resolve a name with a blocking call); empty when it does not resolve.
std::string resolve(const std::string& host) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || !res) return {};
  char buf[INET6_ADDRSTRLEN] = {};
  const void* addr =
      res->ai_family == AF_INET6
          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(res->ai_addr)->sin6_addr)
          : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr);
  inet_ntop(res->ai_family, addr, buf, sizeof buf);
  freeaddrinfo(res);
  return buf;
}

}  // namespace

std::optional<RedisEndpoint> parse_redis_url(const std::string& url) {
  auto u = boost::urls::parse_uri(url);
  if (!u || u->scheme() != "redis" || u->host().empty()) return std::nullopt;
  RedisEndpoint e;
  e.host = u->host_address() == "localhost" ? "127.0.0.1" : std::string(u->host_address());
  if (u->has_port()) {
    e.port = u->port_number();
    if (e.port == 0) return std::nullopt;
  }
  if (u->has_userinfo()) {
    e.username = u->user();
    e.password = u->password();
  }
  std::string path = u->path();
  if (!path.empty() && path != "/") {
    path.erase(0, 1);
    int db = 0;
    auto [p, ec] = std::from_chars(path.data(), path.data() + path.size(), db);
    if (ec != std::errc{} || p != path.data() + path.size() || db < 0) return std::nullopt;
    e.db = db;
  }
  return e;
}

// One hiredis connection driven by the io_context of one I/O thread.
struct RedisStore::Connection {
  struct Pending {
    explicit Pending(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    std::optional<Reply> reply;
    bool done = false;
  };

  // The script's answer for one check (see redis_script.cpp).
  struct Answer {
    static constexpr unsigned kAllowed = 1, kHadToken = 2, kBlocked = 4, kNewlyBlocked = 8;
    unsigned flags = 0;
    long long remaining_milli = 0, reset_ms = 0, retry_ms = 0, blocked_ms = 0;
  };
  // A decision waiting for the batch's answer: its slice of the reply.
  struct Waiter {
    explicit Waiter(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    Few<Answer> answers;  ///< one per check
    std::size_t checks = 0;
    bool done = false;
    bool answered = false;
  };
  // The decisions sent in one script call, as the Redis protocol's text, written once as the
  // decisions were queued (no string per argument, no hiredis format). Its head names the
  // script: EVALSHA and its SHA-1, or, resent after NOSCRIPT, EVAL and the script itself.
  struct Batch {
    std::string command;
    std::size_t head_size = 0;  ///< of `command`
    std::size_t arguments = 0;  ///< after the head
    std::vector<std::shared_ptr<Waiter>> waiters;
    Connection* conn = nullptr;
    bool resent = false;

    static std::string head(std::size_t arguments, bool eval) {
      std::string out;
      out.append(1, '*').append(std::to_string(2 + arguments)).append("\r\n");
      append_bulk(out, eval ? "EVAL" : "EVALSHA");
      append_bulk(out, eval ? redis_script() : redis_script_sha());
      return out;
    }
    // Resent after NOSCRIPT: the same arguments under EVAL.
    void resend_in_full() {
      resent = true;
      const std::string eval = head(arguments, true);
      command.replace(0, head_size, eval);
      head_size = eval.size();
    }
  };
  static constexpr std::size_t kMaxBatch = 64;

  Connection(RedisStore& s, asio::any_io_executor e) : store(s), ex(std::move(e)) {}

  RedisStore& store;
  asio::any_io_executor ex;
  redisAsyncContext* ac = nullptr;
  std::unique_ptr<asio::posix::stream_descriptor> sd;
  bool want_read = false, want_write = false, read_armed = false, write_armed = false;
  std::uint64_t epoch = 0;       // bumped when the context goes; stale waits ignore themselves
  std::uint64_t generation = 0;  // the store's generation this connection was made in
  std::string failure;           // why the last call() gave no reply

  bool connect() {
    const auto& e = store.options_.endpoint;
    const std::string ip = store.address();
    if (ip.empty()) return false;
    ac = redisAsyncConnect(ip.c_str(), e.port);
    if (!ac) return false;
    if (ac->err) {
      redisAsyncFree(ac);
      ac = nullptr;
      return false;
    }
    ++epoch;
    generation = store.generation_.load();
    sd = std::make_unique<asio::posix::stream_descriptor>(ex, ac->c.fd);
    ac->ev.data = this;
    ac->ev.addRead = [](void* p) {
      auto* c = static_cast<Connection*>(p);
      c->want_read = true;
      c->arm_read();
    };
    ac->ev.delRead = [](void* p) { static_cast<Connection*>(p)->want_read = false; };
    ac->ev.addWrite = [](void* p) {
      auto* c = static_cast<Connection*>(p);
      c->want_write = true;
      c->arm_write();
    };
    ac->ev.delWrite = [](void* p) { static_cast<Connection*>(p)->want_write = false; };
    ac->ev.cleanup = [](void* p) { static_cast<Connection*>(p)->forget_context(); };
    for (const auto& cmd : handshake(e)) send(cmd, nullptr, nullptr);
    return true;
  }

  // hiredis is freeing the context: release the descriptor it owns, stop waiting on it.
  void forget_context() {
    ac = nullptr;
    ++epoch;
    want_read = want_write = read_armed = write_armed = false;
    if (sd) {
      boost::system::error_code ec;
      sd->cancel(ec);
      sd->release();
      sd.reset();
    }
  }

  void close() {
    if (ac) redisAsyncFree(ac);  // pending callbacks get a null reply; cleanup runs
  }

  void arm_read() {
    if (read_armed || !sd) return;
    read_armed = true;
    sd->async_wait(asio::posix::descriptor_base::wait_read,
                   [this, e = epoch](const boost::system::error_code& ec) {
                     if (e != epoch) return;
                     read_armed = false;
                     if (ec || !ac || !want_read) return;
                     redisAsyncHandleRead(ac);  // may free the context
                     if (ac && want_read) arm_read();
                   });
  }

  void arm_write() {
    if (write_armed || !sd) return;
    write_armed = true;
    sd->async_wait(asio::posix::descriptor_base::wait_write,
                   [this, e = epoch](const boost::system::error_code& ec) {
                     if (e != epoch) return;
                     write_armed = false;
                     if (ec || !ac || !want_write) return;
                     redisAsyncHandleWrite(ac);  // may free the context
                     if (ac && want_write) arm_write();
                   });
  }

  static void on_reply(redisAsyncContext*, void* r, void* priv) {
    auto* holder = static_cast<std::shared_ptr<Pending>*>(priv);
    auto pending = std::move(*holder);
    delete holder;
    if (r) pending->reply = copy_reply(static_cast<redisReply*>(r));
    pending->done = true;
    pending->timer.cancel();
  }

  // The decisions queued during this turn of the event loop, sent together by flush(): as
  // protocol text, their distinct buckets' keys and rules, and their per-request arguments;
  // and the rules they use (sent once per call, referred to by number).
  std::string queued_keys;
  std::size_t queued_key_count = 0;
  KeyNumbers queued_buckets;
  std::string queued_bucket_rules;  // each distinct bucket's rule number
  std::string queued_args;
  std::size_t queued_arg_count = 0;
  std::vector<const Rule*> queued_rules;
  std::vector<std::shared_ptr<Waiter>> queued;
  bool flush_posted = false;

  std::size_t rule_number(const Rule* rule) {
    for (std::size_t i = 0; i < queued_rules.size(); ++i) {
      if (queued_rules[i] == rule) return i + 1;
    }
    queued_rules.push_back(rule);
    return queued_rules.size();
  }

  void queue_key(std::string_view key, std::string_view suffix = {}) {
    const std::string& prefix = store.options_.key_prefix;
    append_bulk_head(queued_keys, prefix.size() + key.size() + suffix.size());
    queued_keys.append(prefix).append(key).append(suffix).append("\r\n");
    ++queued_key_count;
  }

  // Queues one decision; the first of a turn posts the flush, so every decision made before
  // the loop turns again goes in the same call.
  std::shared_ptr<Waiter> enqueue(const Checks& checks) {
    if (queued_buckets.size() + checks.size() > KeyNumbers::kMax) flush();
    auto w = std::make_shared<Waiter>(ex);
    w->checks = checks.size();
    append_bulk(queued_args, checks.size());
    for (std::size_t i = 0; i < checks.size(); ++i) {
      const Rule* rule = checks.rule(i);
      const auto [number, first] = queued_buckets.number(checks.key(i));
      if (first) {
        queue_key(checks.key(i));
        if (rule->penalty.count() > 0) queue_key(checks.key(i), kBoxSuffix);
        append_bulk(queued_bucket_rules, rule_number(rule));
      }
      append_bulk(queued_args, number);
    }
    queued_arg_count += 1 + checks.size();
    queued.push_back(w);
    if (queued.size() >= kMaxBatch) {
      flush();
    } else if (!flush_posted) {
      flush_posted = true;
      asio::post(ex, [this] { flush(); });
    }
    return w;
  }

  static void fail_all(Batch& b) {
    for (auto& w : b.waiters) {
      w->done = true;
      w->timer.cancel();
    }
  }

  void flush() {
    flush_posted = false;
    if (queued.empty()) return;
    auto batch = std::make_unique<Batch>();
    batch->conn = this;
    batch->waiters = std::move(queued);
    queued.clear();
    batch->arguments = 1 + queued_key_count + 1 + 7 * queued_rules.size() + 1 +
                       queued_buckets.size() + 1 + queued_arg_count;
    std::string& body = batch->command;
    body = Batch::head(batch->arguments, false);
    batch->head_size = body.size();
    body.reserve(body.size() + 256 + queued_keys.size() + queued_bucket_rules.size() +
                 queued_args.size());
    append_bulk(body, queued_key_count);
    body.append(queued_keys);
    append_bulk(body, queued_rules.size());
    for (const Rule* r : queued_rules) {
      append_bulk(body, num(r->per_ms()));
      append_bulk(body, num(r->burst));
      append_bulk(body, ms(r->penalty));
      append_bulk(body, r->penalty_threshold);
      append_bulk(body, ms(r->penalty_window));
      append_bulk(body, ms(r->max_penalty));
      append_bulk(body, r->shadow ? "1" : "0");
    }
    append_bulk(body, queued_buckets.size());
    body.append(queued_bucket_rules);
    append_bulk(body, batch->waiters.size());
    body.append(queued_args);
    queued_keys.clear();
    queued_key_count = 0;
    queued_buckets.clear();
    queued_bucket_rules.clear();
    queued_args.clear();
    queued_arg_count = 0;
    queued_rules.clear();
    if (!store.available()) {
      // The breaker opened while these waited: they go in-process at once, not to Redis.
      failure = "Redis unavailable";
      fail_all(*batch);
      return;
    }
    if (!ensure_connected()) {
      fail_all(*batch);
      return;
    }
    send_batch(std::move(batch));
  }

  void send_batch(std::unique_ptr<Batch> batch) {
    Batch* raw = batch.release();
    if (redisAsyncFormattedCommand(ac, &Connection::on_batch, raw, raw->command.data(),
                                   raw->command.size()) != REDIS_OK) {
      failure = "cannot send";
      fail_all(*raw);
      delete raw;
    }
  }

  static void on_batch(redisAsyncContext*, void* r, void* priv) {
    std::unique_ptr<Batch> batch(static_cast<Batch*>(priv));
    auto* reply = static_cast<redisReply*>(r);
    if (reply && reply->type == REDIS_REPLY_ERROR && !batch->resent && batch->conn->ac &&
        std::string_view(reply->str, reply->len).starts_with("NOSCRIPT")) {
      // Redis was restarted or flushed: send the script itself once more.
      batch->resend_in_full();
      Connection* conn = batch->conn;
      conn->send_batch(std::move(batch));
      return;
    }
    if (reply && reply->type == REDIS_REPLY_STRING &&
        read_answers(std::string_view(reply->str, reply->len), batch->waiters)) {
      // Each waiter now carries its answers.
    } else if (reply) {
      batch->conn->failure = reply->type == REDIS_REPLY_ERROR
                                 ? std::string(reply->str, reply->len)
                                 : std::string("unexpected script answer");
    } else {
      batch->conn->failure = "connection lost";
    }
    fail_all(*batch);  // wakes every waiter; the answered ones carry their answers
  }

  // Splits the script's answer among the waiters; false (and none answered) unless it holds
  // exactly the answers they expect.
  static bool read_answers(std::string_view text,
                           const std::vector<std::shared_ptr<Waiter>>& waiters) {
    const char* p = text.data();
    const char* end = p + text.size();
    auto next = [&](long long& v) {
      if (p < end && *p == ' ') ++p;
      auto [after, ec] = std::from_chars(p, end, v);
      if (ec != std::errc{} || v < 0) return false;
      p = after;
      return true;
    };
    for (const auto& w : waiters) {
      w->answers.resize(w->checks);
      for (auto& a : w->answers) {
        long long flags = 0;
        if (!next(flags) || flags > 15 || !next(a.remaining_milli) || !next(a.reset_ms)) {
          return false;
        }
        a.flags = static_cast<unsigned>(flags);
        a.retry_ms = 0;
        a.blocked_ms = 0;
        if (!(a.flags & Answer::kHadToken) && !next(a.retry_ms)) return false;
        if ((a.flags & Answer::kBlocked) && !next(a.blocked_ms)) return false;
      }
    }
    if (p != end) return false;
    for (const auto& w : waiters) w->answered = true;
    return true;
  }

  // Queues a command on the connection; false (and `failure` set) when hiredis refuses it.
  bool send(const std::vector<std::string>& args, redisCallbackFn* fn, void* priv) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    argv_of(args, argv, lens);
    if (redisAsyncCommandArgv(ac, fn, priv, static_cast<int>(argv.size()), argv.data(),
                              lens.data()) == REDIS_OK) {
      return true;
    }
    failure = "cannot send";
    return false;
  }

  // A live connection of the current generation (one made before the last trip is replaced).
  bool ensure_connected() {
    if (ac && generation != store.generation_.load()) close();
    if (!ac && !connect()) {
      failure = "cannot connect";
      return false;
    }
    return true;
  }

  // One command; nullopt when the connection failed or the answer did not come in time.
  asio::awaitable<std::optional<Reply>> call(const std::vector<std::string>& args,
                                             milliseconds timeout) {
    if (!ensure_connected()) co_return std::nullopt;
    auto pending = std::make_shared<Pending>(ex);
    auto* holder = new std::shared_ptr<Pending>(pending);
    if (!send(args, &Connection::on_reply, holder)) {
      delete holder;
      co_return std::nullopt;
    }
    pending->timer.expires_after(timeout);
    boost::system::error_code ec;
    co_await pending->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!pending->done) {
      // Too slow: give up on this connection (its late answers would be out of step).
      failure = "no answer within " + std::to_string(timeout.count()) + " ms";
      close();
      co_return std::nullopt;
    }
    if (!pending->reply) failure = "connection lost";
    co_return std::move(pending->reply);
  }
};

RedisStore::RedisStore(RedisOptions options)
    : options_(std::move(options)), id_(g_next_store_id.fetch_add(1)) {
  changed_at_ms_ = steady_ms();
}

RedisStore::~RedisStore() { stop(); }

RedisStore::Connection& RedisStore::connection_for_this_thread(const asio::any_io_executor& ex) {
  for (const auto& tc : t_connections) {
    if (tc.store_id == id_) return *tc.connection;
  }
  std::lock_guard lock(mu_);
  connections_.push_back(std::make_unique<Connection>(*this, ex));
  t_connections.push_back({id_, connections_.back().get()});
  return *connections_.back();
}

void RedisStore::trip(const std::string& why) {
  failures_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(mu_);
    last_error_ = why;
  }
  if (available_.exchange(false, std::memory_order_acq_rel)) {
    trips_.fetch_add(1, std::memory_order_relaxed);
    changed_at_ms_ = steady_ms();
    log::get("ratelimit")
        ->warn(
            "{}",
            log::Line("Redis unavailable; rate limiting continues in-process").kv("reason", why));
  }
}

asio::awaitable<std::optional<Decision>> RedisStore::decide(const Checks& checks) {
  auto& conn = connection_for_this_thread(co_await asio::this_coro::executor);
  auto waiter = conn.enqueue(checks);
  if (!waiter->done) {
    waiter->timer.expires_after(options_.timeout);
    boost::system::error_code ec;
    co_await waiter->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (!waiter->done) {
    // Too slow: give up on this connection (its late answers would be out of step); every
    // decision still waiting on it fails over too.
    conn.failure = "no answer within " + std::to_string(options_.timeout.count()) + " ms";
    const std::string why = conn.failure;
    conn.close();
    trip(why);
    co_return std::nullopt;
  }
  if (!waiter->answered) {
    trip(conn.failure.empty() ? "connection lost" : conn.failure);
    co_return std::nullopt;
  }
  calls_.fetch_add(1, std::memory_order_relaxed);
  Decision d;
  d.store = StoreMode::kRedis;
  using Answer = Connection::Answer;
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const Answer& a = waiter->answers[i];
    RuleOutcome o;
    o.rule = checks.rule(i);
    o.verdict.allowed = (a.flags & Answer::kAllowed) != 0;
    o.verdict.remaining = static_cast<double>(a.remaining_milli) / 1000.0;
    o.verdict.retry_ms = std::max(a.retry_ms, a.blocked_ms);
    o.verdict.reset_ms = a.reset_ms;
    o.blocked = (a.flags & Answer::kBlocked) != 0;
    o.blocked_ms = a.blocked_ms;
    o.penalized = (a.flags & Answer::kNewlyBlocked) != 0;
    d.outcomes.push_back(o);
  }
  summarize(d);
  co_return d;
}

asio::awaitable<std::optional<std::size_t>> RedisStore::clear(
    const std::vector<std::string>& keys, const std::vector<std::string>& prefixes) {
  auto& conn = connection_for_this_thread(co_await asio::this_coro::executor);
  const milliseconds timeout{std::max<long>(1000, options_.timeout.count())};
  std::vector<std::string> doomed;
  for (const auto& k : keys) {
    doomed.push_back(options_.key_prefix + k);
    doomed.push_back(options_.key_prefix + k + kBoxSuffix);
  }
  for (const auto& prefix : prefixes) {
    std::string pattern = options_.key_prefix;
    for (char c : prefix) {
      if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') pattern += '\\';
      pattern += c;
    }
    pattern += '*';
    std::string cursor = "0";
    do {
      // (Named: GCC 12 cannot take a braced list of literals inside a co_await.)
      std::vector<std::string> scan{"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
      auto r = co_await conn.call(scan, timeout);
      if (!r || r->type != REDIS_REPLY_ARRAY || r->elements.size() != 2) co_return std::nullopt;
      cursor = r->elements[0].str;
      for (const auto& k : r->elements[1].elements) doomed.push_back(k.str);
    } while (cursor != "0");
  }
  if (doomed.empty()) co_return std::size_t{0};
  std::vector<std::string> del{"DEL"};
  del.insert(del.end(), doomed.begin(), doomed.end());
  auto r = co_await conn.call(del, timeout);
  if (!r || r->type != REDIS_REPLY_INTEGER) co_return std::nullopt;
  co_return static_cast<std::size_t>(r->integer);
}

bool RedisStore::probe_once() {
  const auto& e = options_.endpoint;
  const auto connect_timeout = std::max<long>(100, options_.timeout.count() * 4);
  timeval tv{connect_timeout / 1000, static_cast<suseconds_t>((connect_timeout % 1000) * 1000)};
  const auto started = std::chrono::steady_clock::now();
  const std::string ip = resolve(e.host);
  {
    std::lock_guard lock(mu_);
    if (!ip.empty()) address_ = ip;
  }
  if (ip.empty()) {
    std::lock_guard lock(mu_);
    last_error_ = "cannot resolve '" + e.host + "'";
    return false;
  }
  redisContext* c = redisConnectWithTimeout(ip.c_str(), e.port, tv);
  std::string error;
  if (!c || c->err) {
    error = c ? c->errstr : "cannot allocate a Redis context";
  } else {
    redisSetTimeout(c, tv);
    auto run = [&](const std::vector<std::string>& args) -> bool {
      std::vector<const char*> argv;
      std::vector<std::size_t> lens;
      argv_of(args, argv, lens);
      auto* r = static_cast<redisReply*>(
          redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
      if (!r) {
        error = c->errstr;
        return false;
      }
      const bool ok = r->type != REDIS_REPLY_ERROR;
      if (!ok) error = std::string(r->str, r->len);
      freeReplyObject(r);
      return ok;
    };
    bool ok = true;
    for (const auto& cmd : handshake(e)) ok = ok && run(cmd);
    ok = ok && run({"PING"}) && run({"SCRIPT", "LOAD", redis_script()});
    if (ok) {
      last_probe_ms_ =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
              .count();
    }
  }
  if (c) redisFree(c);
  if (!error.empty()) {
    std::lock_guard lock(mu_);
    last_error_ = error;
    return false;
  }
  return true;
}

void RedisStore::start() {
  if (probe_once()) {
    available_ = true;
    changed_at_ms_ = steady_ms();
    log::get("ratelimit")
        ->info("{}",
               log::Line("rate limiting shared through Redis").kv("host", options_.endpoint.host));
  } else {
    std::lock_guard lock(mu_);
    log::get("ratelimit")
        ->warn("{}", log::Line("Redis unavailable at start; rate limiting "
                               "in-process until it answers")
                         .kv("reason", last_error_));
  }
  probe_thread_ = std::thread([this] { probe_loop(); });
}

void RedisStore::probe_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    probe_cv_.wait_for(lock, options_.probe_interval);
    if (stopping_) break;
    lock.unlock();
    const bool ok = probe_once();
    if (ok && !available()) {
      generation_.fetch_add(1);  // connections made before reconnect on their next call
      available_ = true;
      recoveries_.fetch_add(1, std::memory_order_relaxed);
      changed_at_ms_ = steady_ms();
      log::get("ratelimit")->info("{}", log::Line("Redis answers again; rate limits shared"));
    } else if (!ok && available()) {
      trip("probe failed");
    }
    lock.lock();
  }
}

void RedisStore::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  probe_cv_.notify_all();
  if (probe_thread_.joinable()) probe_thread_.join();
  std::lock_guard lock(mu_);
  for (auto& c : connections_) c->close();
}

std::string RedisStore::address() const {
  std::lock_guard lock(mu_);
  return address_;
}

RedisStatus RedisStore::status() const {
  RedisStatus s;
  s.available = available();
  s.trips = trips_.load();
  s.recoveries = recoveries_.load();
  s.calls = calls_.load();
  s.failures = failures_.load();
  s.last_probe_ms = last_probe_ms_.load();
  s.since_change_ms = steady_ms() - changed_at_ms_.load();
  std::lock_guard lock(mu_);
  s.last_error = last_error_;
  return s;
}

}  // namespace evald::ratelimit
