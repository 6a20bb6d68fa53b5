#include "net/worker_pool.hpp"

#include <gtest/gtest.h>

#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <stdexcept>
#include <thread>

namespace evald::net {
namespace {

namespace asio = boost::asio;

TEST(WorkerPool, RunsOffTheCallingThreadAndResumesOnIt) {
  WorkerPool pool(2);
  asio::io_context ioc;
  std::thread::id io_thread, work_thread, resumed_thread;
  auto fut = asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<int> {
        io_thread = std::this_thread::get_id();
        int v = co_await pool.run([&] {
          work_thread = std::this_thread::get_id();
          return 41;
        });
        resumed_thread = std::this_thread::get_id();
        co_return v + 1;
      },
      asio::use_future);
  ioc.run();
  EXPECT_EQ(fut.get(), 42);
  EXPECT_NE(work_thread, io_thread);
  EXPECT_EQ(resumed_thread, io_thread);
}

TEST(WorkerPool, PropagatesExceptions) {
  WorkerPool pool(1);
  asio::io_context ioc;
  auto fut = asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<int> {
        co_return co_await pool.run([]() -> int { throw std::runtime_error("db down"); });
      },
      asio::use_future);
  ioc.run();
  EXPECT_THROW(fut.get(), std::runtime_error);
}

TEST(WorkerPool, BlockingWorkDoesNotStallTheIoThread) {
  WorkerPool pool(2);
  asio::io_context ioc;
  std::atomic<int> ticks{0};
  std::atomic<bool> done{false};
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        co_await pool.run([] {
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          return 0;
        });
        done = true;
      },
      asio::detached);
  // A second coroutine keeps running on the same io thread while the first waits.
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer t(ioc);
        while (!done) {
          ++ticks;
          t.expires_after(std::chrono::milliseconds(5));
          co_await t.async_wait(asio::use_awaitable);
        }
      },
      asio::detached);
  ioc.run();
  EXPECT_GT(ticks.load(), 10);
}

}  // namespace
}  // namespace evald::net
