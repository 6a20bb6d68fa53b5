#pragma once
/// Threads for blocking work (database, password hashing, mail). I/O threads await it:
///   auto rows = co_await workers.run([&] { return db.query(...); });
/// The coroutine resumes on its own I/O thread; exceptions propagate to the awaiter.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
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
    if constexpr (std::is_void_v<R>) {
      co_await boost::asio::co_spawn(
          pool_.get_executor(),
          [&f]() -> boost::asio::awaitable<void> {
            f();
            co_return;
          },
          boost::asio::use_awaitable);
    } else {
      // The result is handed over through a slot: R need not be default-constructible
      // (Result<T> is not). The completion's post orders the write before the read.
      std::optional<R> out;
      co_await boost::asio::co_spawn(
          pool_.get_executor(),
          [&f, &out]() -> boost::asio::awaitable<void> {
            out.emplace(f());
            co_return;
          },
          boost::asio::use_awaitable);
      co_return std::move(*out);
    }
  }

  /// Runs `f` on the pool without waiting for it (fire and forget; exceptions are dropped).
  template <class F>
  void post(F f) {
    boost::asio::post(pool_, [f = std::move(f)]() mutable {
      try {
        f();
      } catch (...) {
      }
    });
  }

  unsigned size() const { return threads_; }

  /// Lets queued work finish, then joins the threads.
  void stop() { pool_.wait(); }

 private:
  boost::asio::thread_pool pool_;
  unsigned threads_;
};

}  // namespace evald::net
