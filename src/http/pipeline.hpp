#pragma once
/// The middleware chain. A middleware may answer on its own (a local reply) or call `next` and
/// decorate what comes back. The order is data: see app/pipeline_order.cpp.

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string_view>
#include <vector>

#include "http/context.hpp"
#include "http/message.hpp"

namespace evald::http {

class Pipeline;

class Next {
 public:
  boost::asio::awaitable<Response> operator()(Request& req, RequestContext& ctx) const;

 private:
  friend class Pipeline;
  Next(const Pipeline* pipeline, std::size_t index) : pipeline_(pipeline), index_(index) {}
  const Pipeline* pipeline_;
  std::size_t index_;
};

class Middleware {
 public:
  virtual ~Middleware() = default;
  virtual std::string_view name() const = 0;
  virtual boost::asio::awaitable<Response> handle(Request& req, RequestContext& ctx, Next next) = 0;
};

/// The innermost step: the route's handler, or the 404/405 reply.
class Terminal {
 public:
  virtual ~Terminal() = default;
  virtual boost::asio::awaitable<Response> handle(Request& req, RequestContext& ctx) = 0;
};

class Pipeline {
 public:
  Pipeline(std::vector<std::unique_ptr<Middleware>> chain, std::unique_ptr<Terminal> terminal);
  boost::asio::awaitable<Response> run(Request& req, RequestContext& ctx) const;
  std::vector<std::string_view> names() const;

 private:
  friend class Next;
  std::vector<std::unique_ptr<Middleware>> chain_;
  std::unique_ptr<Terminal> terminal_;
};

}  // namespace evald::http
