#include "http/connection.h"

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <limits>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <climits>

#include "http/growing_file.h"
#include "http/tls.h"
#include "util/log.h"

namespace wharf::http {
namespace {

constexpr uint64_t kLingerMs = 2000;
// Discarding is for the tail of a request the client is still sending when
// we answer; a client that keeps streaming past this (say, a gigabyte-long
// header line) is cut off, so lingering never turns into free bandwidth.
constexpr uint64_t kLingerMaxBytes = 16 << 20;
// Bytes written per writable event before yielding to other connections.
// Plain responses go back to the loop after a quarter MiB: with 4 MiB turns
// sendfile ran each socket full (EAGAIN on one call in ten), and the server
// spent twice the CPU per GB at 8 and 64 clients; with short turns no call
// met a full socket (bench/RESULTS.md, "Write budget"). TLS turns stay long:
// shortening them made TLS at 64 clients 1.14x nginx's CPU per GB.
constexpr uint64_t kPlainWriteBudget = 256 << 10;
constexpr uint64_t kTlsWriteBudget = 4 << 20;
constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr size_t kTlsChunk = 128 * 1024;

}  // namespace

Connection::Connection(Worker* w, int fd, std::string peer, SSL* ssl)
    : w_(w),
      fd_(fd),
      peer_(std::move(peer)),
      ssl_(ssl),
      parser_(w->shared().limits, this),
      ex_{parser_.request(), res_, w->index(), w->loop(), this, w, 0, nullptr, false, nullptr, {}, {}},
      in_(new char[kInBufSize]) {
  parser_.request().peer = peer_;
  parser_.request().secure = ssl_ != nullptr;
  if (ssl_) SSL_set_fd(ssl_, fd_);
}

Connection::~Connection() {
  if (ssl_) SSL_free(ssl_);
}

ssize_t Connection::Recv(char* buf, size_t n) {
  if (!ssl_) {
    ssize_t r = ::read(fd_, buf, n);
    if (r >= 0) return r;
    return (errno == EAGAIN || errno == EINTR) ? kAgain : kFailed;
  }
  ERR_clear_error();
  int r = SSL_read(ssl_, buf, static_cast<int>(std::min<size_t>(n, INT_MAX)));
  if (r > 0) {
    tls_want_write_ = false;
    return r;
  }
  switch (SSL_get_error(ssl_, r)) {
    case SSL_ERROR_WANT_READ: return kAgain;
    case SSL_ERROR_WANT_WRITE: tls_want_write_ = true; return kAgain;
    case SSL_ERROR_ZERO_RETURN: return 0;
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0) return 0;  // EOF without close_notify
      [[fallthrough]];
    default:
      TlsFailed();
      return kFailed;
  }
}

ssize_t Connection::Send(const char* buf, size_t n, bool more) {
  if (!ssl_) {
    ssize_t r = ::send(fd_, buf, n, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    if (r >= 0) return r;
    return (errno == EAGAIN || errno == EINTR) ? kAgain : kFailed;
  }
  ERR_clear_error();
  int r = SSL_write(ssl_, buf, static_cast<int>(std::min<size_t>(n, INT_MAX)));
  if (r > 0) {
    tls_want_read_ = false;
    return r;
  }
  switch (SSL_get_error(ssl_, r)) {
    case SSL_ERROR_WANT_WRITE: return kAgain;
    case SSL_ERROR_WANT_READ: tls_want_read_ = true; return kAgain;
    default: return kFailed;
  }
}

void Connection::TlsFailed() {
  unsigned long err = ERR_peek_error();
  if (!SSL_is_init_finished(ssl_)) {
    if (TlsErrorIsHttpRequest(err)) {
      // Plain HTTP on the TLS port: say so in plain HTTP, as nginx does.
      static const std::string kMsg = CannedError(400, "BAD_REQUEST", "this port speaks HTTPS");
      ssize_t n = ::send(fd_, kMsg.data(), kMsg.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      (void)n;
    }
    w_->LogTlsFailure(peer_, TlsError());
  } else {
    WLOG_DEBUG("%s: TLS error: %s", peer_.c_str(), TlsError().c_str());
  }
  ERR_clear_error();
}

void Connection::Start() {
  uv_timer_init(w_->loop(), &timer_);
  timer_.data = this;
  open_handles_ = 1;
  last_activity_ms_ = uv_now(w_->loop());
  ArmTimer(last_activity_ms_ + w_->shared().limits.idle_timeout_seconds * 1000ull);
  // Clients send their request right after connecting, so it is usually
  // already here: reading before registering with epoll lets a one-shot
  // (Connection: close) exchange finish without any epoll_ctl at all.
  ReadSome();
}

void Connection::ArmTimer(uint64_t due) {
  uint64_t now = uv_now(w_->loop());
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(&timer_)) && due >= timer_due_ms_) return;
  timer_due_ms_ = due;
  uv_timer_start(&timer_, OnTimer, due > now ? due - now : 1, 0);
}

void Connection::UpdatePoll() {
  if (phase_ == Phase::kClosed) return;
  int want = 0;
  switch (phase_) {
    case Phase::kReading:
      want = UV_READABLE | (out_off_ < out_.size() ? UV_WRITABLE : 0);
      break;
    case Phase::kDeferred: break;
    case Phase::kWriting: want = stream_blocked_ ? 0 : UV_WRITABLE; break;
    case Phase::kLingering: want = UV_READABLE; break;
    case Phase::kClosed: break;
  }
  if (phase_ == Phase::kReading && tls_want_write_) want |= UV_WRITABLE;
  if (phase_ == Phase::kWriting && tls_want_read_) want |= UV_READABLE;
  if (want == poll_events_) return;
  poll_events_ = want;
  if (!poll_inited_) {
    // Lazily: libuv's poll init costs an ioctl and two epoll_ctl calls, which
    // a connection that is answered and closed from its first read never needs.
    int rc = uv_poll_init_socket(w_->loop(), &poll_, fd_);
    if (rc != 0) {
      WLOG_ERROR("%s: cannot watch the connection: %s", peer_.c_str(), uv_strerror(rc));
      poll_events_ = 0;
      Close();
      return;
    }
    poll_.data = this;
    poll_inited_ = true;
    ++open_handles_;
  }
  if (want)
    uv_poll_start(&poll_, want, OnPoll);
  else
    uv_poll_stop(&poll_);
}

void Connection::OnPoll(uv_poll_t* h, int status, int events) {
  auto* c = static_cast<Connection*>(h->data);
  if (status < 0) {
    c->Close();
    return;
  }
  if ((events & UV_READABLE) || (c->tls_want_write_ && (events & UV_WRITABLE))) c->ReadSome();
  if (c->phase_ == Phase::kClosed) return;
  if ((events & UV_WRITABLE) || (c->tls_want_read_ && (events & UV_READABLE))) c->Pump();
  // Decrypted bytes can wait inside the SSL object where poll cannot see them.
  if (c->ssl_ && c->phase_ == Phase::kReading && SSL_pending(c->ssl_) > 0) c->ReadSome();
}

void Connection::ReadSome() {
  const Limits& lim = w_->shared().limits;
  for (int i = 0; i < 4 && phase_ != Phase::kClosed; ++i) {
    // Input waits until the response is out, or the deferred work is done.
    if (phase_ == Phase::kWriting || phase_ == Phase::kDeferred) return;
    if (phase_ == Phase::kLingering) {
      char sink[16384];
      ssize_t n = ::read(fd_, sink, sizeof sink);  // raw: we only discard
      if (n > 0 && (linger_bytes_ += static_cast<uint64_t>(n)) <= kLingerMaxBytes) continue;
      if (n > 0) {
        Close();
        return;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      Close();  // EOF or error: the client has seen our response
      return;
    }
    if (in_start_ == in_end_) in_start_ = in_end_ = 0;
    if (in_end_ == kInBufSize) return;
    ssize_t n = Recv(in_.get() + in_end_, kInBufSize - in_end_);
    if (n > 0) {
      uint64_t now = uv_now(w_->loop());
      last_activity_ms_ = now;
      if (!parser_.InMessage() && in_start_ == in_end_) {
        head_started_ms_ = now;
        req_start_us_ = uv_hrtime() / 1000;  // for requests that never parse
        ArmTimer(now + lim.header_timeout_seconds * 1000ull);
      }
      in_end_ += static_cast<size_t>(n);
      Pump();
      continue;
    }
    if (n == kAgain) {
      UpdatePoll();
      return;
    }
    Close();  // EOF (client went away, maybe mid-request) or a broken socket
    return;
  }
}

void Connection::Pump() {
  while (phase_ != Phase::kClosed) {
    if (phase_ == Phase::kWriting) {
      if (!Flush()) break;
      ResponseDone();
      continue;
    }
    if (phase_ == Phase::kLingering || phase_ == Phase::kDeferred) break;
    // Reading: first push out a queued "100 Continue".
    if (out_off_ < out_.size()) {
      if (!Flush()) {
        if (phase_ == Phase::kClosed) return;
      } else {
        out_.clear();
        out_off_ = 0;
      }
    }
    if (in_start_ == in_end_ && !feed_empty_) break;
    feed_empty_ = false;
    size_t used = 0;
    RequestParser::State st =
        parser_.Feed(std::string_view(in_.get() + in_start_, in_end_ - in_start_), &used);
    in_start_ += used;
    req_bytes_in_ += used;
    if (phase_ == Phase::kClosed) return;
    if (st == RequestParser::State::kNeedMore) {
      if (used == 0 && in_start_ == in_end_) break;
      continue;
    }
    if (st == RequestParser::State::kError) {
      const ParseError& e = parser_.error();
      res_.Reset();
      res_.Error(e.status, e.code, e.message);
      close_after_ = true;
    } else if (st == RequestParser::State::kStopped) {
      close_after_ = true;
    }
    if (waiting_) {
      phase_ = Phase::kDeferred;
      break;
    }
    PrepareResponse();
  }
  UpdatePoll();
}

void Connection::QueueContinue() { out_.append(kContinue, sizeof kContinue - 1); }

ParserEvents::Action Connection::OnHead(Request& req) {
  req_start_us_ = uv_hrtime() / 1000;
  ex_.scratch.reset();
  ex_.user.clear();
  ex_.client.clear();
  w_->AssignRequestId(req);
  return Admit(req);
}

ParserEvents::Action Connection::Admit(Request& req) {
  res_.Reset();
  ex_.sink.reset();
  ex_.body_limit = 0;
  answered_at_head_ = false;
  log::RequestScope scope(req.id());
  mode_ = w_->shared().handler->Begin(ex_);
  if (mode_ == Handler::BodyMode::kPause) {
    head_paused_ = waiting_ = true;
    return Action::kPause;
  }
  const bool has_body = req.chunked || req.content_length > 0;
  if (mode_ == Handler::BodyMode::kRespond) {
    if (!res_.answered()) res_.Error(500, "INTERNAL", "handler gave no response");
    answered_at_head_ = true;
    return has_body ? Action::kStop : Action::kContinue;
  }
  if (mode_ == Handler::BodyMode::kBuffer && req.has_content_length &&
      req.content_length > ex_.body_limit) {
    res_.Reset();
    res_.Error(413, "SIZE_INVALID",
               "request body larger than " + std::to_string(ex_.body_limit) + " bytes");
    answered_at_head_ = true;
    return Action::kStop;
  }
  if (req.expect_continue && has_body) QueueContinue();
  return Action::kContinue;
}

ParserEvents::Action Connection::OnBody(std::string_view chunk) {
  if (answered_at_head_) return Action::kContinue;
  Request& req = parser_.request();
  if (mode_ == Handler::BodyMode::kRespond || mode_ == Handler::BodyMode::kPause)
    return Action::kContinue;
  if (mode_ == Handler::BodyMode::kBuffer) {
    if (req.body.size() + chunk.size() > ex_.body_limit) {
      res_.Reset();
      res_.Error(413, "SIZE_INVALID",
                 "request body larger than " + std::to_string(ex_.body_limit) + " bytes");
      answered_at_head_ = true;
      return Action::kStop;
    }
    req.body.append(chunk);
    return Action::kContinue;
  }
  Status st = ex_.sink ? ex_.sink->Write(chunk) : Internal("no body sink");
  if (!st.ok()) {
    if (!res_.answered()) res_.Error(500, "INTERNAL", st.message());
    answered_at_head_ = true;
    return Action::kStop;
  }
  if (ex_.deferred) {  // the sink waits for blocking work (see BodySink)
    body_paused_ = waiting_ = true;
    return Action::kPause;
  }
  return Action::kContinue;
}

void Connection::OnMessageComplete(Request&) {
  if (!answered_at_head_) {
    log::RequestScope scope(parser_.request().id());
    w_->shared().handler->Finish(ex_);
    if (ex_.deferred)
      waiting_ = true;
    else if (!res_.answered())
      res_.Error(500, "INTERNAL", "handler gave no response");
  }
  ex_.sink.reset();
}

void Connection::ContinueReading() {
  parser_.Resume();
  phase_ = Phase::kReading;
  feed_empty_ = true;  // the message may complete without more input
  Pump();
  // Nothing was read while deferred, and TLS may hold bytes that poll
  // cannot see: read now rather than wait for the socket to stir.
  if (phase_ == Phase::kReading) ReadSome();
}

void Connection::ResumeDeferred() {
  waiting_ = false;
  ex_.deferred = false;
  if (phase_ == Phase::kClosed) {
    w_->Detach(this);
    ex_.scratch.reset();
    if (open_handles_ == 0) delete this;  // the client left while we worked
    return;
  }
  if (body_paused_) {
    body_paused_ = false;
    last_activity_ms_ = uv_now(w_->loop());
    if (res_.answered()) {  // the sink gave up: answer, read no more of the body
      answered_at_head_ = close_after_ = true;
      PrepareResponse();
      Pump();
    } else {
      ContinueReading();
    }
    return;
  }
  if (head_paused_) {
    head_paused_ = false;
    last_activity_ms_ = uv_now(w_->loop());
    switch (Admit(parser_.request())) {
      case Action::kPause:
        return;  // still waiting
      case Action::kStop:  // answered; the body (if any) is not read
        close_after_ = true;
        PrepareResponse();
        Pump();
        return;
      case Action::kContinue:
        ContinueReading();
        return;
    }
  }
  if (!res_.answered()) res_.Error(500, "INTERNAL", "handler gave no response");
  last_activity_ms_ = uv_now(w_->loop());
  PrepareResponse();
  Pump();
}

void Connection::PrepareResponse() {
  Request& req = parser_.request();
  if (!res_.answered()) res_.Error(500, "INTERNAL", "no response");
  if (req.id_len == 0) w_->AssignRequestId(req);  // a request that never parsed
  if (!req.keep_alive || res_.close || w_->draining()) close_after_ = true;
  const int status = res_.status;
  const bool bodyless = req.IsHead() || status == 204 || status == 304 || status < 200;
  out_.erase(0, out_off_);
  out_off_ = 0;
  char line[96];
  int n = snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\nDate: ", status, StatusText(status));
  out_.append(line, n);
  out_.append(w_->DateHeader());
  out_.append("\r\n");
  if (status >= 200 && status != 204 && status != 304) {
    n = snprintf(line, sizeof line, "Content-Length: %llu\r\n",
                 static_cast<unsigned long long>(res_.BodySize()));
    out_.append(line, n);
  }
  if (close_after_)
    out_.append("Connection: close\r\n");
  else if (req.http_minor == 0)
    out_.append("Connection: keep-alive\r\n");
  out_.append("X-Request-Id: ");
  out_.append(req.id());
  out_.append("\r\n");
  out_.append(res_.headers);
  out_.append(w_->shared().extra_headers);
  out_.append("\r\n");
  if (bodyless) {
    res_.body.clear();
    res_.shared_body.reset();
    res_.stream.reset();
    if (res_.file.fd >= 0) ::close(res_.file.fd);
    res_.file = FileRange{};
  }
  body_off_ = 0;
  if (res_.stream) {
    file_off_ = res_.stream_offset;
    file_end_ = res_.stream_offset + res_.stream_length;
    res_.stream->Subscribe(w_);
    stream_subscribed_ = true;
  } else {
    file_off_ = res_.file.offset;
    file_end_ = res_.file.offset + res_.file.length;
  }
  phase_ = Phase::kWriting;
}

ssize_t Connection::SendFromFile(int src, uint64_t limit, uint64_t budget) {
  if (!ssl_) {
    off_t off = static_cast<off_t>(file_off_);
    size_t want = static_cast<size_t>(std::min<uint64_t>(limit - file_off_, budget));
    ssize_t n = ::sendfile(fd_, src, &off, want);
    if (n < 0) return (errno == EAGAIN || errno == EINTR) ? kAgain : kFailed;
    if (n == 0) {  // the file is shorter than promised: never pad, abort
      WLOG_ERROR("%s: file body ended %llu bytes early", peer_.c_str(),
                 static_cast<unsigned long long>(limit - file_off_));
      return kFailed;
    }
    file_off_ += static_cast<uint64_t>(n);
    return n;
  }
  // TLS: no sendfile; read a chunk, then encrypt and send it.
  if (tls_buf_off_ == tls_buf_len_) {
    if (!tls_buf_) tls_buf_.reset(new char[kTlsChunk]);
    size_t want = static_cast<size_t>(std::min<uint64_t>(limit - file_off_, kTlsChunk));
    ssize_t r = ::pread(src, tls_buf_.get(), want, static_cast<off_t>(file_off_));
    if (r <= 0) {
      WLOG_ERROR("%s: file body unreadable or short", peer_.c_str());
      return kFailed;
    }
    tls_buf_len_ = static_cast<size_t>(r);
    tls_buf_off_ = 0;
    file_off_ += static_cast<uint64_t>(r);
  }
  ssize_t n = Send(tls_buf_.get() + tls_buf_off_, tls_buf_len_ - tls_buf_off_, false);
  if (n > 0) tls_buf_off_ += static_cast<size_t>(n);
  return n;
}

void Connection::EndStream() {
  if (stream_subscribed_ && res_.stream) res_.stream->Unsubscribe(w_);
  stream_subscribed_ = false;
  if (stream_blocked_) w_->StopWaitStream(this);
  stream_blocked_ = false;
}

void Connection::OnStreamGrew() {
  stream_blocked_ = false;
  if (phase_ == Phase::kWriting) Pump();
}

bool Connection::Flush() {
  const bool response = phase_ == Phase::kWriting;
  uint64_t budget = ssl_ ? kTlsWriteBudget : kPlainWriteBudget;
  while (budget > 0) {
    size_t head_left = out_.size() - out_off_;
    const std::string_view body = response ? res_.Bytes() : std::string_view();
    size_t body_left = body.size() - body_off_;
    const bool has_file = response && (res_.file.fd >= 0 || res_.stream);
    // A live stream is not finished before its writer says the bytes are verified.
    const bool stream_open = res_.stream && res_.stream->state() != GrowingFile::State::kDone;
    const bool file_left =
        has_file && (file_off_ < file_end_ || tls_buf_off_ < tls_buf_len_ || stream_open);
    ssize_t n;
    if (head_left + body_left > 0) {
      if (!ssl_) {
        iovec iov[2];
        int cnt = 0;
        if (head_left) iov[cnt++] = {out_.data() + out_off_, head_left};
        if (body_left) iov[cnt++] = {const_cast<char*>(body.data()) + body_off_, body_left};
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = cnt;
        n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | (file_left ? MSG_MORE : 0));
        if (n < 0) n = (errno == EAGAIN || errno == EINTR) ? kAgain : kFailed;
      } else if (head_left) {
        n = Send(out_.data() + out_off_, head_left, false);
      } else {
        n = Send(body.data() + body_off_, body_left, false);
      }
      if (n > 0) {
        size_t k = static_cast<size_t>(n);
        size_t h = std::min(k, head_left);
        out_off_ += h;
        body_off_ += k - h;
      }
    } else if (file_left) {
      int src = res_.stream ? res_.stream->fd() : res_.file.fd;
      uint64_t limit = file_end_;
      if (res_.stream) {
        if (res_.stream->state() == GrowingFile::State::kFailed) {
          Close();  // the upstream fetch failed: the client must not see a complete body
          return false;
        }
        // Hold back the last byte (of the range asked for) until the digest
        // is verified: a corrupt download then ends as a truncated
        // response, never a complete one.
        const bool done = res_.stream->state() == GrowingFile::State::kDone;
        limit = done ? file_end_ : std::min(res_.stream->available(), file_end_ ? file_end_ - 1 : 0);
        if (file_off_ >= limit && tls_buf_off_ == tls_buf_len_) {
          if (done) continue;  // everything is out
          stream_blocked_ = true;
          w_->WaitStream(this);
          return false;
        }
      }
      n = SendFromFile(src, limit, budget);
    } else {
      return true;
    }
    if (n == kAgain) return false;
    if (n < 0) {
      Close();
      return false;
    }
    req_bytes_out_ += static_cast<uint64_t>(n);
    budget -= std::min<uint64_t>(budget, static_cast<uint64_t>(n));
    last_activity_ms_ = uv_now(w_->loop());
  }
  // Budget spent: yield; the level-triggered poll brings us back.
  return false;
}

void Connection::ResponseDone() {
  Request& req = parser_.request();
  const uint64_t micros = uv_hrtime() / 1000 - req_start_us_;
  w_->metrics().RecordRequest(req.route, Metrics::MethodIndex(req.method), res_.status,
                              req_bytes_in_, req_bytes_out_, micros);
  w_->shared().access_log->Write(
      AccessRecord{ex_.client.empty() ? std::string_view(peer_) : std::string_view(ex_.client), req.method,
                   req.target, res_.status, req_bytes_out_, micros, req.id()});
  w_->shared().handler->Done(ex_);
  EndStream();
  res_.Reset();
  ex_.sink.reset();
  out_.clear();
  out_off_ = body_off_ = 0;
  tls_buf_len_ = tls_buf_off_ = 0;
  req_bytes_in_ = req_bytes_out_ = 0;
  answered_at_head_ = false;
  if (close_after_) {
    const bool unread = in_start_ < in_end_ || parser_.InMessage() ||
                        parser_.error().status != 0;
    if (unread) {
      StartLingering();
    } else {
      Close();
    }
    return;
  }
  parser_.Resume();
  phase_ = Phase::kReading;
  if (in_start_ < in_end_) head_started_ms_ = uv_now(w_->loop());
}

void Connection::StartLingering() {
  // Half-close and drain what the client still sends, so that our error
  // response is not destroyed by a reset from unread input.
  phase_ = Phase::kLingering;
  linger_bytes_ = 0;
  if (ssl_) SSL_shutdown(ssl_);  // best effort close_notify
  ::shutdown(fd_, SHUT_WR);
  in_start_ = in_end_ = 0;
  uv_timer_stop(&timer_);
  timer_due_ms_ = 0;
  ArmTimer(uv_now(w_->loop()) + kLingerMs);
  UpdatePoll();
}

void Connection::OnTimer(uv_timer_t* h) {
  auto* c = static_cast<Connection*>(h->data);
  if (c->phase_ == Phase::kClosed) return;
  if (c->phase_ == Phase::kLingering) {
    c->Close();
    return;
  }
  if (c->phase_ == Phase::kDeferred) {  // our own work; the client is not idle
    c->timer_due_ms_ = 0;
    c->ArmTimer(uv_now(c->w_->loop()) + c->w_->shared().limits.idle_timeout_seconds * 1000ull);
    return;
  }
  const Limits& lim = c->w_->shared().limits;
  const uint64_t now = uv_now(c->w_->loop());
  const bool in_head =
      c->phase_ == Phase::kReading && c->parser_.InMessage() && !c->parser_.HeadDone();
  const uint64_t idle_due = c->last_activity_ms_ + lim.idle_timeout_seconds * 1000ull;
  const uint64_t head_due = in_head ? c->head_started_ms_ + lim.header_timeout_seconds * 1000ull
                                    : std::numeric_limits<uint64_t>::max();
  if (now >= head_due) {
    // Slowloris: the head did not arrive in time. Say so, then close.
    c->res_.Reset();
    c->res_.Error(408, "REQUEST_TIMEOUT", "request head not received in time");
    c->close_after_ = true;
    c->PrepareResponse();
    c->Pump();
    return;
  }
  if (now >= idle_due) {
    c->Close();
    return;
  }
  c->timer_due_ms_ = 0;
  c->ArmTimer(std::min(idle_due, head_due));
}

void Connection::Drain() {
  if (phase_ == Phase::kReading && !parser_.InMessage() && in_start_ == in_end_ &&
      out_off_ == out_.size()) {
    Close();
    return;
  }
  close_after_ = true;
}

void Connection::Close() {
  if (phase_ == Phase::kClosed) return;
  if (ssl_ && phase_ != Phase::kLingering && SSL_is_init_finished(ssl_)) SSL_shutdown(ssl_);
  phase_ = Phase::kClosed;
  EndStream();
  ex_.sink.reset();  // aborts a streamed upload
  if (poll_inited_) uv_close(reinterpret_cast<uv_handle_t*>(&poll_), OnHandleClosed);
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), OnHandleClosed);
  // Work in flight for this connection will post back to the worker: keep
  // the worker alive (attached) until it has.
  if (!waiting_) w_->Detach(this);
}

void Connection::OnHandleClosed(uv_handle_t* h) {
  auto* c = static_cast<Connection*>(h->data);
  if (--c->open_handles_ == 0) {
    ::close(c->fd_);
    if (!c->waiting_) delete c;  // else ResumeDeferred() deletes it
  }
}

}  // namespace wharf::http
