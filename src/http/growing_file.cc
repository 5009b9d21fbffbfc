#include "http/growing_file.h"

#include <unistd.h>

#include <algorithm>

#include "http/worker.h"

namespace wharf::http {

GrowingFile::GrowingFile(int fd, uint64_t length) : fd_(fd), length_(length) {}

GrowingFile::~GrowingFile() {
  if (fd_ >= 0) ::close(fd_);
}

void GrowingFile::Advance(uint64_t written) {
  // Readers see the first kHeadStart bytes at once (time to first byte), and
  // then trail the writer by at least kTrail, on kTrailStep boundaries: a
  // reader splicing pages the writer is still filling makes the writer's
  // copy into those pages several times slower (measured: a 1 GiB cold pull
  // took 2.8 s instead of 1.6 s).
  uint64_t shown = written;
  if (written < length_) {
    shown = written >= kTrail + kHeadStart ? (written - kTrail) & ~(kTrailStep - 1)
                                           : std::min(written, kHeadStart);
    shown = std::max(shown, available_.load(std::memory_order_relaxed));
  }
  available_.store(shown, std::memory_order_release);
  if (shown - woken_at_ < kWakeBytes && shown < length_) return;
  woken_at_ = shown;
  WakeAll();
}

void GrowingFile::Finish(bool ok) {
  state_.store(ok ? State::kDone : State::kFailed, std::memory_order_release);
  WakeAll();
}

void GrowingFile::Subscribe(Worker* w) {
  std::lock_guard<std::mutex> lock(mu_);
  subscribers_.push_back(w);
}

void GrowingFile::Unsubscribe(Worker* w) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::find(subscribers_.begin(), subscribers_.end(), w);
  if (it != subscribers_.end()) subscribers_.erase(it);
}

void GrowingFile::WakeAll() {
  std::lock_guard<std::mutex> lock(mu_);
  Worker* last = nullptr;
  for (Worker* w : subscribers_) {
    if (w == last) continue;  // uv_async_send coalesces anyway; skip obvious repeats
    w->WakeStreams();
    last = w;
  }
}

}  // namespace wharf::http
