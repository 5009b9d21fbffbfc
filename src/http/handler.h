// The contract between a connection and the application that answers it.
//
// For every request the connection calls, on its worker loop:
//   1. Begin(ex) when the head is parsed. The handler either answers at once
//      (fills ex.res and returns kRespond; a pending body is then not read and
//      the connection closes after the response), asks for the body to be
//      collected into ex.req.body up to ex.body_limit bytes (kBuffer), or
//      installs ex.sink to receive the body as it streams in (kStream), or
//      starts asynchronous work (kPause, e.g. a password check) and later
//      calls ex.Resume() on the loop, after which Begin(ex) is called again.
//   2. Finish(ex) once the whole body has arrived (never after kRespond). It
//      must fill ex.res before returning, or call ex.Defer() and answer later.
// The sink is destroyed when the request ends, whether it completed or the
// connection died mid-body; per-request state lives in the sink.
// A body larger than ex.body_limit, in kBuffer mode, is answered with 413 by
// the connection itself. A sink that fails fills ex.res and returns an error
// from Write(); the connection then answers with ex.res and closes.
//
// Thread-safety: all calls for one connection happen on its worker loop. A
// Handler instance is shared by all workers, so it must be thread-safe.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "http/request.h"
#include "http/response.h"
#include "util/status.h"

namespace wharf::http {

// Receives a streamed request body.
class BodySink {
 public:
  virtual ~BodySink() = default;
  // Consumes the next chunk. On error the sink has put the answer in the
  // exchange's response.
  // A sink that needs blocking work before it can take `chunk` (e.g. making
  // room on a full disk) may keep a copy of it, call ex.Defer() (directly or
  // through work that ends in ex.Resume()) and return ok: the connection
  // then reads no more of the body until Resume(). If the exchange's response
  // has been answered by then, it is sent and the rest of the body is not
  // read; otherwise the body continues after `chunk`.
  virtual Status Write(std::string_view chunk) = 0;
};

// Implemented by the worker: runs a function on its loop thread. Post() is
// thread-safe; the function runs soon after, in order.
class LoopPoster {
 public:
  virtual ~LoopPoster() = default;
  virtual void Post(std::function<void()> fn) = 0;
};

// Implemented by the connection: picks up a deferred response.
class Resumable {
 public:
  virtual ~Resumable() = default;
  virtual void ResumeDeferred() = 0;
};

struct Exchange {
  Request& req;
  Response& res;
  int worker = 0;                    // index of the worker loop
  uv_loop_t* loop = nullptr;         // the worker's loop
  Resumable* conn = nullptr;
  LoopPoster* poster = nullptr;      // to come back to this loop from another thread
  uint64_t body_limit = 0;           // for kBuffer
  std::unique_ptr<BodySink> sink;    // for kStream
  bool deferred = false;
  // Handler state that must survive a kPause (e.g. an upstream fetch in
  // progress); released when the next request starts.
  std::shared_ptr<void> scratch;
  // Who made the request, once the handler knows (a login name; empty for
  // anonymous); cleared when the next request starts.
  std::string user;
  // The client's address when a trusted reverse proxy named it, for the
  // access log (empty: the connection's peer); cleared likewise.
  std::string client;

  // Called in Finish() instead of answering: the response comes later. The
  // handler must then fill `res` and call Resume() exactly once, on this
  // loop's thread (e.g. from a uv_queue_work completion). The Exchange stays
  // valid until then, even if the client goes away meanwhile.
  void Defer() { deferred = true; }
  void Resume() { conn->ResumeDeferred(); }
};

class Handler {
 public:
  enum class BodyMode { kRespond, kBuffer, kStream, kPause };
  virtual ~Handler() = default;
  virtual BodyMode Begin(Exchange& ex) = 0;
  virtual void Finish(Exchange& ex) = 0;
  // After the response went out (its last byte written), before the next
  // request starts; ex.req and ex.res are still those of this request.
  virtual void Done(const Exchange& ex) { (void)ex; }
};

}  // namespace wharf::http
