#include "http/pipeline.hpp"

namespace evald::http {

// Not coroutines themselves: each step hands back the next layer's awaitable, so a request
// costs one coroutine frame per middleware, not two.
boost::asio::awaitable<Response> Next::operator()(Request& req, RequestContext& ctx) const {
  if (index_ < pipeline_->chain_.size()) {
    return pipeline_->chain_[index_]->handle(req, ctx, Next(pipeline_, index_ + 1));
  }
  return pipeline_->terminal_->handle(req, ctx);
}

Pipeline::Pipeline(std::vector<std::unique_ptr<Middleware>> chain,
                   std::unique_ptr<Terminal> terminal)
    : chain_(std::move(chain)), terminal_(std::move(terminal)) {}

boost::asio::awaitable<Response> Pipeline::run(Request& req, RequestContext& ctx) const {
  return Next(this, 0)(req, ctx);
}

std::vector<std::string_view> Pipeline::names() const {
  std::vector<std::string_view> out;
  for (const auto& m : chain_) out.push_back(m->name());
  return out;
}

}  // namespace evald::http
