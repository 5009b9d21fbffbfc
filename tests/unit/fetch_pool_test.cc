// FetchPool: which thread takes a job, the per-key share, and a shutdown
// that runs every queued job.
#include "proxy/fetch_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <set>
#include <thread>

namespace wharf::proxy {
namespace {

using namespace std::chrono_literals;

TEST(FetchPoolTest, AJobGoesToTheThreadThatWentIdleLast) {
  FetchPool pool(4);
  std::this_thread::sleep_for(100ms);  // every thread has started and is idle
  std::set<std::thread::id> used;
  for (int i = 0; i < 20; ++i) {
    std::promise<std::thread::id> ran;
    pool.Run("up", [&] { ran.set_value(std::this_thread::get_id()); });
    used.insert(ran.get_future().get());
    std::this_thread::sleep_for(20ms);  // the thread is idle again
  }
  EXPECT_EQ(used.size(), 1u);
}

TEST(FetchPoolTest, OneKeyNeverHoldsTheLastThread) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> stuck{0}, max_stuck{0};
  {
    FetchPool pool(3);
    for (int i = 0; i < 5; ++i) {
      pool.Run("stalled", [&] {
        int now = ++stuck;
        int seen = max_stuck.load();
        while (now > seen && !max_stuck.compare_exchange_weak(seen, now)) {
        }
        released.wait();
        --stuck;
      });
    }
    std::promise<void> other;
    pool.Run("healthy", [&] { other.set_value(); });
    EXPECT_EQ(other.get_future().wait_for(5s), std::future_status::ready);
    // Two stalled jobs are inside their bodies before any is let go.
    for (int i = 0; i < 5000 && stuck.load() < 2; ++i) std::this_thread::sleep_for(1ms);
    EXPECT_EQ(stuck.load(), 2);
    release.set_value();
  }  // joins after the other three stalled jobs
  EXPECT_EQ(max_stuck.load(), 2);
}

TEST(FetchPoolTest, ShutdownRunsEveryQueuedJobIncludingHeldBackOnes) {
  std::atomic<int> ran{0};
  {
    FetchPool pool(3);
    for (int i = 0; i < 7; ++i)
      pool.Run(i % 2 ? "a" : "b", [&] {
        std::this_thread::sleep_for(2ms);
        ++ran;
      });
  }  // joins: must not hang with jobs held back for their key
  EXPECT_EQ(ran.load(), 7);
}

}  // namespace
}  // namespace wharf::proxy
