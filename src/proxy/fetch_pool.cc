#include "proxy/fetch_pool.h"

namespace wharf::proxy {

FetchPool::FetchPool(int threads) : per_key_(threads > 1 ? threads - 1 : 1) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

FetchPool::~FetchPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    while (!idle_.empty()) WakeOne();
  }
  for (auto& t : threads_) t.join();
}

void FetchPool::Run(const std::string& key, std::function<void()> job) {
  std::lock_guard<std::mutex> lock(mu_);
  jobs_.push_back(Job{key, std::move(job)});
  WakeOne();
}

void FetchPool::WakeOne() {
  if (idle_.empty()) return;
  Idle* t = idle_.back();
  idle_.pop_back();
  t->woken = true;
  t->cv.notify_one();
}

std::deque<FetchPool::Job>::iterator FetchPool::NextRunnable() {
  for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
    auto r = running_.find(it->key);
    if (r == running_.end() || r->second < per_key_) return it;
  }
  return jobs_.end();
}

void FetchPool::Loop() {
  Idle self;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    auto it = NextRunnable();
    if (it == jobs_.end()) {
      if (stop_ && jobs_.empty()) {
        // Threads that went idle after the destructor woke them would
        // otherwise wait for a job that never comes.
        while (!idle_.empty()) WakeOne();
        return;
      }
      self.woken = false;
      idle_.push_back(&self);
      self.cv.wait(lock, [&] { return self.woken; });
      continue;
    }
    Job job = std::move(*it);
    jobs_.erase(it);
    ++running_[job.key];
    lock.unlock();
    job.fn();
    lock.lock();
    if (--running_[job.key] == 0) running_.erase(job.key);
    // A job held back for its key may be runnable now: this thread looks
    // first, and one idle thread more in case this one takes another job.
    if (!jobs_.empty()) WakeOne();
  }
}

}  // namespace wharf::proxy
