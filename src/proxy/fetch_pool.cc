#include "proxy/fetch_pool.h"

namespace wharf::proxy {

FetchPool::FetchPool(int threads) : per_key_(threads > 1 ? threads - 1 : 1) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

FetchPool::~FetchPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void FetchPool::Run(const std::string& key, std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(Job{key, std::move(job)});
  }
  cv_.notify_one();
}

std::deque<FetchPool::Job>::iterator FetchPool::NextRunnable() {
  for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
    auto r = running_.find(it->key);
    if (r == running_.end() || r->second < per_key_) return it;
  }
  return jobs_.end();
}

void FetchPool::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    auto it = jobs_.end();
    cv_.wait(lock, [&] {
      it = NextRunnable();
      return it != jobs_.end() || (stop_ && jobs_.empty());
    });
    if (it == jobs_.end()) return;  // stopping, and nothing left
    Job job = std::move(*it);
    jobs_.erase(it);
    ++running_[job.key];
    lock.unlock();
    job.fn();
    lock.lock();
    if (--running_[job.key] == 0) running_.erase(job.key);
    // A job held back for its key may be runnable now: this thread looks
    // first, and one idle thread more in case this one takes another job.
    if (!jobs_.empty()) cv_.notify_one();
  }
}

}  // namespace wharf::proxy
