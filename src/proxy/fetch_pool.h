// FetchPool: threads for blocking upstream work (HttpClient is blocking).
//
// Run() queues a job under a key (the upstream registry it talks to); jobs
// run in order of arrival on one of N threads, except that one key may hold
// at most N-1 threads at a time. A stalled upstream, whose jobs each block
// until a timeout, therefore never takes the last thread: work for every
// other upstream keeps moving. (With one thread there is no reserve.)
// A job goes to the thread that went idle last: its stack, heap arena and
// caches are warm, and threads a burst needed once stay asleep afterwards.
// The destructor runs what is queued, then joins. Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace wharf::proxy {

class FetchPool {
 public:
  explicit FetchPool(int threads);
  ~FetchPool();
  FetchPool(const FetchPool&) = delete;
  FetchPool& operator=(const FetchPool&) = delete;

  void Run(const std::string& key, std::function<void()> job);

 private:
  struct Job {
    std::string key;
    std::function<void()> fn;
  };
  // An idle thread's wake-up call.
  struct Idle {
    std::condition_variable cv;
    bool woken = false;
  };
  void Loop();
  // The first queued job whose key is under its share, or end(). REQUIRES mu_.
  std::deque<Job>::iterator NextRunnable();
  // Wakes the thread that went idle last, if any. REQUIRES mu_.
  void WakeOne();

  const int per_key_;
  std::mutex mu_;
  std::vector<Idle*> idle_;  // most recently idle last
  std::deque<Job> jobs_;
  std::unordered_map<std::string, int> running_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace wharf::proxy
