#include "storage/trailing_hash.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

namespace wharf::storage {

namespace {
// Large enough that a read-back costs little per byte, small enough that
// Stop() waits for at most about half a millisecond of hashing.
constexpr size_t kReadBack = 1 << 20;
}  // namespace

HashPool::HashPool(unsigned threads) : idle_(threads) {
  threads_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

HashPool::~HashPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

unsigned HashPool::DefaultThreads() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  int n = CPU_COUNT(&set);
  return n > 1 ? static_cast<unsigned>(n - 1) : 0;
}

bool HashPool::TryRun(TrailingHash* h) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_ == 0) return false;
    --idle_;
    queue_.push_back(h);
  }
  cv_.notify_one();
  return true;
}

void HashPool::Loop() {
  std::unique_ptr<char[]> buf(new char[kReadBack]);
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    TrailingHash* h = queue_.front();
    queue_.pop_front();
    lock.unlock();
    h->CatchUp(buf.get(), kReadBack);
    lock.lock();
    ++idle_;
  }
}

TrailingHash::TrailingHash(HashPool* pool, DigestAlgo algo) : pool_(pool), hasher_(algo) {}

TrailingHash::~TrailingHash() { Stop(); }

void TrailingHash::Wrote(int fd, std::string_view data) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (broken_) return;
    written_ += data.size();
    if (behind_) return;  // the pool thread reads these bytes back too
    if (pool_ && written_ > hashed_) {
      fd_ = fd;
      behind_ = true;
      // The thread starts by taking mu_, so it sees the state set above.
      if (pool_->TryRun(this)) return;
      behind_ = false;
    }
  }
  // No pool thread owns the hasher: this is the only thread touching it.
  hasher_.Update(data);
  std::lock_guard<std::mutex> lock(mu_);
  hashed_ += data.size();
}

void TrailingHash::CatchUp(char* buf, size_t len) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!broken_ && hashed_ < written_) {
    uint64_t at = hashed_;
    size_t want = static_cast<size_t>(std::min<uint64_t>(written_ - hashed_, len));
    lock.unlock();
    ssize_t n;
    do {
      n = ::pread(fd_, buf, want, static_cast<off_t>(at));
    } while (n < 0 && errno == EINTR);
    if (n > 0) hasher_.Update(std::string_view(buf, static_cast<size_t>(n)));
    lock.lock();
    if (n <= 0) broken_ = true;  // cut back or unreadable under us
    else hashed_ += static_cast<uint64_t>(n);
  }
  behind_ = false;
  // Notified under the lock: once behind_ is false the owner may destroy us.
  settled_.notify_all();
}

bool TrailingHash::Settle() {
  std::unique_lock<std::mutex> lock(mu_);
  settled_.wait(lock, [this] { return !behind_; });
  return !broken_;
}

Digest TrailingHash::Final() {
  std::lock_guard<std::mutex> lock(mu_);
  written_ = hashed_ = 0;
  return hasher_.Final();
}

Result<Digest> TrailingHash::Finish(int fd, DigestAlgo algo) {
  Result<Digest> got = algo == hasher_.algo() && Settle() ? Result<Digest>(Final()) : DigestOfFile(fd, algo);
  Stop();
  return got;
}

void TrailingHash::Stop() {
  std::unique_lock<std::mutex> lock(mu_);
  broken_ = true;
  settled_.wait(lock, [this] { return !behind_; });
}

}  // namespace wharf::storage
