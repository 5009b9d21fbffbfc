#include "http/growing_file.h"

#include <unistd.h>

#include <algorithm>

#include "http/worker.h"

namespace wharf::http {

GrowingFile::GrowingFile(int fd, uint64_t length) : fd_(fd), length_(length) {}

GrowingFile::~GrowingFile() {
  if (fd_ >= 0) ::close(fd_);
}

void GrowingFile::Advance(uint64_t available) {
  available_.store(available, std::memory_order_release);
  if (available - woken_at_ < kWakeBytes && available < length_) return;
  woken_at_ = available;
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
