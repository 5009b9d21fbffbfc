// Connection: one client socket on one worker loop.
//
// It reads into a fixed buffer, parses with RequestParser, hands requests to
// the Handler, and writes responses. On plain TCP, writes use sendmsg(2) and,
// for file bodies, sendfile(2); with TLS, the SSL object drives the
// non-blocking socket directly (no memory BIOs, so no extra copy), and file
// bodies stream through a 128 KiB buffer. Pipelined requests are answered in order, one at a
// time. The connection enforces the header and idle timeouts and closes
// itself; it deletes itself once its libuv handles are closed.
//
// Thread-safety: lives entirely on its worker's loop.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>

#include "http/handler.h"
#include "http/parser.h"
#include "http/worker.h"

typedef struct ssl_st SSL;

namespace wharf::http {

class Connection final : public ParserEvents, public Resumable {
 public:
  // Takes ownership of the non-blocking socket `fd` and of `ssl` (nullptr
  // for plain HTTP).
  Connection(Worker* w, int fd, std::string peer, SSL* ssl = nullptr);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void Start();
  // Closes at once if idle; otherwise after the current response.
  void Drain();
  // Closes at once.
  void Close();
  // The live-stream body we wait on has more bytes (or ended).
  void OnStreamGrew();

  Connection* next = nullptr;  // worker's intrusive list
  Connection* prev = nullptr;

 private:
  enum class Phase { kReading, kDeferred, kWriting, kLingering, kClosed };
  // Large enough that a streamed upload body arrives in few reads and reaches
  // the file in few large writes: 256 KiB instead of 64 KiB took a pinned
  // push from 0.77 to 0.90 GB/s (bench/RESULTS.md). Pages a connection never
  // reads into are never touched, so idle connections do not pay for it.
  static constexpr size_t kInBufSize = 256 * 1024;

  ~Connection() override;
  Action OnHead(Request& req) override;
  // Asks the handler how to take this request (OnHead and after a pause).
  Action Admit(Request& req);
  Action OnBody(std::string_view chunk) override;
  void OnMessageComplete(Request& req) override;
  void ResumeDeferred() override;
  // After deferred work: the request's body (or next input) is read again.
  void ContinueReading();

  static void OnPoll(uv_poll_t* h, int status, int events);
  static void OnTimer(uv_timer_t* h);
  static void OnHandleClosed(uv_handle_t* h);

  void ReadSome();
  void Pump();
  void PrepareResponse();
  // Writes pending output. Returns true when everything is written; false
  // when the socket is full (or the connection was closed on an error).
  bool Flush();
  void ResponseDone();
  void StartLingering();
  void UpdatePoll();
  void ArmTimer(uint64_t due_ms);
  void QueueContinue();
  // Transport: >0 bytes moved, 0 end of stream (reads), kAgain (would
  // block), kFailed (the connection is broken).
  static constexpr ssize_t kAgain = -1, kFailed = -2;
  ssize_t Recv(char* buf, size_t n);
  ssize_t Send(const char* buf, size_t n, bool more);
  // Sends file bytes [file_off_, limit) of `src`: sendfile(2) on plain TCP,
  // read-and-encrypt through tls_buf_ with TLS.
  ssize_t SendFromFile(int src, uint64_t limit, uint64_t budget);
  void EndStream();
  void TlsFailed();

  Worker* w_;
  int fd_;
  std::string peer_;
  SSL* ssl_;
  bool tls_want_read_ = false;   // SSL_write needs the socket readable
  bool tls_want_write_ = false;  // SSL_read needs the socket writable
  std::unique_ptr<char[]> tls_buf_;  // file bytes read, not yet encrypted
  size_t tls_buf_len_ = 0, tls_buf_off_ = 0;
  uint64_t file_off_ = 0, file_end_ = 0;  // the file or stream body being sent
  bool stream_subscribed_ = false;
  bool stream_blocked_ = false;           // waiting for a GrowingFile to grow
  uv_poll_t poll_;
  uv_timer_t timer_;
  int open_handles_ = 0;
  int poll_events_ = 0;
  bool poll_inited_ = false;
  uint64_t linger_bytes_ = 0;  // discarded while lingering
  Phase phase_ = Phase::kReading;
  RequestParser parser_;
  Response res_;
  Exchange ex_;
  Handler::BodyMode mode_ = Handler::BodyMode::kRespond;
  bool answered_at_head_ = false;  // Begin() answered; body (if any) is ignored
  bool close_after_ = false;
  bool waiting_ = false;           // a deferred response is outstanding
  bool head_paused_ = false;       // ...and it is Begin() that will be retried
  bool body_paused_ = false;       // ...or the body sink that waits for it
  bool feed_empty_ = false;        // feed the parser once even with no input

  std::unique_ptr<char[]> in_;
  size_t in_start_ = 0, in_end_ = 0;

  std::string out_;         // response head, or a 100 Continue line
  size_t out_off_ = 0;
  size_t body_off_ = 0;     // into res_.body

  uint64_t req_start_us_ = 0;
  uint64_t req_bytes_in_ = 0;
  uint64_t req_bytes_out_ = 0;
  uint64_t last_activity_ms_ = 0;
  uint64_t head_started_ms_ = 0;
  uint64_t timer_due_ms_ = 0;
};

}  // namespace wharf::http
