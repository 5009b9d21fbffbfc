// GrowingFile: a response body that is still being written.
//
// One writer (a proxy fetch on its own thread) appends to a file and calls
// Advance(); any number of responses on any worker loops send the bytes that
// are already there, then wait for more. This is the "live stream" body:
// the first client and late joiners alike read from the file, so a cold blob
// is downloaded once, whatever the number of clients.
//
// Ownership: shared (std::shared_ptr) between the writer and the responses;
// the fd is closed when the last owner lets go.
// Thread-safety: all methods are thread-safe. Wake-ups reach the subscribed
// workers through Worker::WakeStreams() (a uv_async_t), never by calling into
// a loop from the writer's thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

namespace wharf::http {

class Worker;

class GrowingFile {
 public:
  enum class State { kGrowing, kDone, kFailed };

  // Takes ownership of `fd` (readable with pread). `length` is the final size.
  GrowingFile(int fd, uint64_t length);
  ~GrowingFile();
  GrowingFile(const GrowingFile&) = delete;
  GrowingFile& operator=(const GrowingFile&) = delete;

  int fd() const { return fd_; }
  uint64_t length() const { return length_; }
  uint64_t available() const { return available_.load(std::memory_order_acquire); }
  State state() const { return state_.load(std::memory_order_acquire); }

  // Writer side. Readers are woken every kWakeBytes of progress (and at
  // Finish), not for every write: one wake-up per 64 KiB would cost more
  // than the copy it announces.
  static constexpr uint64_t kWakeBytes = 1 << 20;
  void Advance(uint64_t available);
  // ok: every byte is there and verified; !ok: readers must abort.
  void Finish(bool ok);

  // Reader side (from a worker's loop thread): wake `w` on every change.
  void Subscribe(Worker* w);
  void Unsubscribe(Worker* w);

 private:
  void WakeAll();

  int fd_;
  uint64_t length_;
  std::atomic<uint64_t> available_{0};
  uint64_t woken_at_ = 0;  // writer side: `available` at the last wake-up
  std::atomic<State> state_{State::kGrowing};
  std::mutex mu_;
  std::vector<Worker*> subscribers_;  // one entry per subscription
};

}  // namespace wharf::http
