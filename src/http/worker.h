// Worker: one event loop thread with its own SO_REUSEPORT listener.
//
// A worker owns its loop, its listening socket and every connection accepted
// on it; nothing of a worker is touched by another thread except through
// RequestDrain()/RequestClose(), which wake the loop with a uv_async_t.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "config/config.h"
#include "http/access_log.h"
#include "http/handler.h"
#include "util/metrics.h"

namespace wharf::http {

class Connection;

class TlsProvider;

// What all workers share, read-only after start except the atomics.
struct ServerShared {
  Limits limits;
  Handler* handler = nullptr;
  Metrics* metrics = nullptr;
  const AccessLog* access_log = nullptr;
  TlsProvider* tls = nullptr;  // for listeners marked tls
  std::string extra_headers;   // configured lines for every response ("Name: value\r\n"...)
  std::atomic<uint32_t> open_connections{0};
  std::mutex tls_log_mu;
  std::unordered_map<std::string, uint64_t> tls_failures;  // ip -> last log (ms)
};

struct ListenerSpec {
  int fd = -1;  // bound, listening, non-blocking; owned by the worker once started
  bool tls = false;
};

class Worker final : public LoopPoster {
 public:
  Worker(int index, std::vector<ListenerSpec> listeners, ServerShared* shared);
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
  // Gives `req` its id: the client's X-Request-Id if it is a short safe
  // token, else "<8 hex: random per worker><12 hex: counter>", unique per
  // process run with overwhelming probability.
  void AssignRequestId(Request& req);
  // The current "Date:" header value, refreshed once a second.
  std::string_view DateHeader();
  void Attach(Connection* c);
  void Detach(Connection* c);
  void Post(std::function<void()> fn) override;
  // Thread-safe: some GrowingFile this worker streams from has changed.
  void WakeStreams() { uv_async_send(&stream_wake_); }
  // Loop thread: `c` waits for a GrowingFile to grow; woken by WakeStreams().
  void WaitStream(Connection* c) { stream_waiters_.insert(c); }
  void StopWaitStream(Connection* c) { stream_waiters_.erase(c); }
  // Logs a failed TLS handshake at most once per client address per
  // interval, so a scanner or a misconfigured client cannot flood the log.
  void LogTlsFailure(const std::string& peer, const std::string& why);

 private:
  struct Listener {
    Worker* w;
    ListenerSpec spec;
    uv_poll_t poll;
  };
  static void OnAccept(uv_poll_t* h, int status, int events);
  static void OnWake(uv_async_t* h);
  static void OnStreamWake(uv_async_t* h);
  static void OnPosted(uv_async_t* h);
  static void OnResumeAccept(uv_timer_t* h);
  void AcceptSome(Listener& l);
  void Refuse(int fd);
  void Drain();
  void MaybeFinish();
  void SetListening(bool on);

  int index_;
  uint32_t id_prefix_ = 0;
  uint64_t id_counter_ = 0;
  std::vector<std::unique_ptr<Listener>> listeners_;
  ServerShared* shared_;
  uv_loop_t loop_;
  uv_async_t wake_;
  uv_async_t stream_wake_;
  uv_async_t post_wake_;
  std::mutex post_mu_;
  std::vector<std::function<void()>> posted_;
  std::unordered_set<Connection*> stream_waiters_;
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
