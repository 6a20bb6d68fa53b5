#pragma once
/// Threads for blocking work (database, password hashing, mail). I/O threads await it:
///   auto rows = co_await workers.run([&] { return db.query(...); });
/// The coroutine resumes on its own I/O thread; exceptions propagate to the awaiter.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <type_traits>
#include <utility>

namespace evald::net {

class WorkerPool {
 public:
  explicit WorkerPool(unsigned threads) : pool_(threads), threads_(threads) {}
  ~WorkerPool() { stop(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  template <class F>
  auto run(F f) -> boost::asio::awaitable<std::invoke_result_t<F>> {
    using R = std::invoke_result_t<F>;
    co_return co_await boost::asio::co_spawn(
        pool_.get_executor(),
        [f = std::move(f)]() mutable -> boost::asio::awaitable<R> { co_return f(); },
        boost::asio::use_awaitable);
  }

  unsigned size() const { return threads_; }

  /// Lets queued work finish, then joins the threads.
  void stop() { pool_.wait(); }

 private:
  boost::asio::thread_pool pool_;
  unsigned threads_;
};

}  // namespace evald::net
