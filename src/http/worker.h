// Worker: one event loop thread with its own SO_REUSEPORT listener.
//
// A worker owns its loop, its listening socket and every connection accepted
// on it; nothing of a worker is touched by another thread except through
// RequestDrain()/RequestClose(), which wake the loop with a uv_async_t.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "config/config.h"
#include "http/access_log.h"
#include "http/handler.h"
#include "util/metrics.h"

namespace wharf::http {

class Connection;

// What all workers share, read-only after start except the atomics.
struct ServerShared {
  Limits limits;
  Handler* handler = nullptr;
  Metrics* metrics = nullptr;
  const AccessLog* access_log = nullptr;
  std::atomic<uint32_t> open_connections{0};
};

class Worker {
 public:
  Worker(int index, int listen_fd, ServerShared* shared);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  void Start();           // runs the loop on a new thread
  void Join();
  // Thread-safe. Stop accepting; close idle connections; close the others
  // after their current response. The loop ends when none is left.
  void RequestDrain();
  // Thread-safe. Close every connection now.
  void RequestClose();

  // Loop-thread side, for Connection.
  uv_loop_t* loop() { return &loop_; }
  int index() const { return index_; }
  bool draining() const { return draining_; }
  ServerShared& shared() { return *shared_; }
  Metrics::Shard& metrics() { return shared_->metrics->shard(index_); }
  // The current "Date:" header value, refreshed once a second.
  std::string_view DateHeader();
  void Attach(Connection* c);
  void Detach(Connection* c);

 private:
  static void OnAccept(uv_poll_t* h, int status, int events);
  static void OnWake(uv_async_t* h);
  static void OnResumeAccept(uv_timer_t* h);
  void AcceptSome();
  void Refuse(int fd);
  void Drain();
  void MaybeFinish();

  int index_;
  int listen_fd_;
  ServerShared* shared_;
  uv_loop_t loop_;
  uv_poll_t listen_poll_;
  uv_async_t wake_;
  uv_timer_t accept_backoff_;
  std::thread thread_;
  std::atomic<int> command_{0};  // 1 drain, 2 close
  bool draining_ = false;
  bool listening_ = false;
  bool finished_ = false;
  Connection* conns_ = nullptr;  // intrusive list
  uint64_t n_conns_ = 0;
  time_t date_sec_ = 0;
  char date_[40] = {};
  uint64_t last_fd_warning_ms_ = 0;
};

}  // namespace wharf::http
