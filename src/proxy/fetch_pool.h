// FetchPool: threads for blocking upstream work (HttpClient is blocking).
//
// Run() queues a job under a key (the upstream registry it talks to); jobs
// run in order of arrival on one of N threads, except that one key may hold
// at most N-1 threads at a time. A stalled upstream, whose jobs each block
// until a timeout, therefore never takes the last thread: work for every
// other upstream keeps moving. (With one thread there is no reserve.)
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
  void Loop();
  // The first queued job whose key is under its share, or end(). REQUIRES mu_.
  std::deque<Job>::iterator NextRunnable();

  const int per_key_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::unordered_map<std::string, int> running_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace wharf::proxy
