#include "conn.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <climits>

namespace wharf::bench {
namespace {
constexpr size_t kBuf = 256 * 1024;
Conn* Self(llhttp_t* p) { return static_cast<Conn*>(p->data); }
}  // namespace

std::string Reply::Header(const std::string& lower) const {
  for (auto& [k, v] : headers)
    if (k == lower) return v;
  return {};
}

Conn::Conn(uv_loop_t* loop, const Target* t) : loop_(loop), t_(t), buf_(new char[kBuf]) {
  llhttp_settings_init(&settings_);
  settings_.on_header_field = OnHeaderField;
  settings_.on_header_value = OnHeaderValue;
  settings_.on_headers_complete = OnHeadersComplete;
  settings_.on_body = OnBody;
  settings_.on_message_complete = OnMessageComplete;
}

Conn::~Conn() { CloseSocket(); }

void Conn::CloseSocket() {
  if (poll_) {
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }
  if (ssl_) SSL_free(ssl_);
  ssl_ = nullptr;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  connected_ = handshaken_ = false;
  events_ = 0;
}

void Conn::SetEvents(int ev) {
  if (ev == events_ || !poll_) return;
  events_ = ev;
  uv_poll_start(poll_, ev, OnPoll);
}

void Conn::Send(Call call, Done done) {
  busy_ = true;
  call_ = std::move(call);
  done_ = std::move(done);
  reply_ = Reply{};
  complete_ = false;
  discard_ = 0;
  discarding_ = false;
  in_value_ = false;
  hasher_.reset(call_.verify ? new Hasher() : nullptr);
  out_ = call_.method + " " + call_.path + " HTTP/1.1\r\nHost: " + t_->host + ":" +
         std::to_string(t_->port) + "\r\nUser-Agent: wharf-bench\r\n";
  for (auto& [k, v] : call_.headers) out_ += k + ": " + v + "\r\n";
  if (!call_.body.empty() || call_.method == "PUT" || call_.method == "POST" || call_.method == "PATCH")
    out_ += "Content-Length: " + std::to_string(call_.body.size()) + "\r\n";
  if (call_.close) out_ += "Connection: close\r\n";
  out_ += "\r\n";
  out_off_ = body_off_ = 0;
  llhttp_init(&parser_, HTTP_RESPONSE, &settings_);
  parser_.data = this;
  if (fd_ < 0) {
    StartConnect();
    return;
  }
  Drive(UV_WRITABLE);
}

void Conn::StartConnect() {
  fd_ = socket(t_->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int rc = ::connect(fd_, reinterpret_cast<const sockaddr*>(&t_->addr), t_->addr_len);
  if (rc != 0 && errno != EINPROGRESS) {
    Finish("connect");
    return;
  }
  poll_ = new uv_poll_t;
  uv_poll_init_socket(loop_, poll_, fd_);
  poll_->data = this;
  events_ = 0;
  SetEvents(UV_WRITABLE);
}

void Conn::OnPoll(uv_poll_t* h, int status, int events) {
  auto* c = static_cast<Conn*>(h->data);
  if (status < 0) {
    c->Finish("socket");
    return;
  }
  c->Drive(events);
}

bool Conn::Handshake() {
  if (!ssl_) {
    ssl_ = SSL_new(t_->ctx);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, t_->host.c_str());
  }
  ERR_clear_error();
  int r = SSL_connect(ssl_);
  if (r == 1) {
    handshaken_ = true;
    return true;
  }
  int e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_WANT_READ) SetEvents(UV_READABLE);
  else if (e == SSL_ERROR_WANT_WRITE) SetEvents(UV_WRITABLE);
  else Finish("tls");
  return false;
}

void Conn::Drive(int) {
  if (!busy_) return;
  if (!connected_) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
      Finish("connect");
      return;
    }
    connected_ = true;
  }
  if (t_->tls && !handshaken_ && !Handshake()) return;
  if (out_off_ < out_.size() || body_off_ < call_.body.size()) {
    if (!Write()) return;
  }
  Read();
}

bool Conn::Write() {
  while (out_off_ < out_.size() || body_off_ < call_.body.size()) {
    const char* p;
    size_t n;
    if (out_off_ < out_.size()) {
      p = out_.data() + out_off_;
      n = out_.size() - out_off_;
    } else {
      p = call_.body.data() + body_off_;
      n = call_.body.size() - body_off_;
    }
    ssize_t w;
    if (ssl_) {
      ERR_clear_error();
      int r = SSL_write(ssl_, p, static_cast<int>(std::min<size_t>(n, INT_MAX)));
      if (r <= 0) {
        int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
          SetEvents(e == SSL_ERROR_WANT_WRITE ? UV_WRITABLE : UV_READABLE);
          return false;
        }
        Finish("write");
        return false;
      }
      w = r;
    } else {
      w = ::send(fd_, p, n, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EAGAIN || errno == EINTR) {
          SetEvents(UV_WRITABLE);
          return false;
        }
        Finish("write");
        return false;
      }
    }
    if (out_off_ < out_.size()) out_off_ += static_cast<size_t>(w);
    else body_off_ += static_cast<size_t>(w);
  }
  SetEvents(UV_READABLE);
  return true;
}

bool Conn::Read() {
  while (busy_) {
    if (discarding_ && discard_ > 0 && !ssl_) {
      ssize_t n = Recv(nullptr, static_cast<size_t>(std::min<uint64_t>(discard_, 1u << 30)), MSG_TRUNC);
      if (n <= 0) return n == 0;
      discard_ -= static_cast<uint64_t>(n);
      reply_.body_bytes += static_cast<uint64_t>(n);
      if (discard_ == 0) {
        complete_ = true;
        Finish("");
      }
      continue;
    }
    ssize_t n;
    if (ssl_) {
      ERR_clear_error();
      int r = SSL_read(ssl_, buf_.get(), kBuf);
      if (r <= 0) {
        int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_WANT_READ) return true;
        if (e == SSL_ERROR_WANT_WRITE) {
          SetEvents(UV_WRITABLE);
          return true;
        }
        Finish(e == SSL_ERROR_ZERO_RETURN ? "eof" : "tls-read");
        return false;
      }
      n = r;
    } else {
      n = Recv(buf_.get(), kBuf, 0);
      if (n <= 0) return n == 0;
    }
    llhttp_errno_t err = llhttp_execute(&parser_, buf_.get(), static_cast<size_t>(n));
    if (complete_) {
      Finish("");
      return false;
    }
    if (err == HPE_PAUSED) {
      // Paused after the head to discard the rest of the body in the kernel.
      const char* pos = llhttp_get_error_pos(&parser_);
      uint64_t in_buf = static_cast<uint64_t>(buf_.get() + n - pos);
      uint64_t take = std::min(in_buf, discard_);
      discard_ -= take;
      reply_.body_bytes += take;
      discarding_ = true;
      if (discard_ == 0) {
        complete_ = true;
        Finish("");
        return false;
      }
      continue;
    }
    if (err != HPE_OK) {
      Finish("parse");
      return false;
    }
  }
  return true;
}

ssize_t Conn::Recv(void* buf, size_t n, int flags) {
  ssize_t r = ::recv(fd_, buf, n, flags);
  if (r > 0) return r;
  if (r < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
  Finish(r == 0 ? "eof" : "read");
  return -1;
}

int Conn::OnHeaderField(llhttp_t* p, const char* at, size_t n) {
  Conn* c = Self(p);
  if (c->reply_.headers.empty() || c->in_value_) c->reply_.headers.emplace_back();
  c->in_value_ = false;
  for (size_t i = 0; i < n; ++i)
    c->reply_.headers.back().first += static_cast<char>(std::tolower(static_cast<unsigned char>(at[i])));
  return 0;
}

int Conn::OnHeaderValue(llhttp_t* p, const char* at, size_t n) {
  Conn* c = Self(p);
  c->in_value_ = true;
  if (!c->reply_.headers.empty()) c->reply_.headers.back().second.append(at, n);
  return 0;
}

int Conn::OnHeadersComplete(llhttp_t* p) {
  Conn* c = Self(p);
  c->reply_.status = p->status_code;
  if (c->call_.method == "HEAD") return 1;
  const bool has_len = (p->flags & F_CONTENT_LENGTH) != 0;
  if (has_len && p->content_length > 0 && !c->call_.keep_body && !c->call_.verify && !c->ssl_) {
    c->discard_ = p->content_length;
    return HPE_PAUSED;
  }
  return 0;
}

int Conn::OnBody(llhttp_t* p, const char* at, size_t n) {
  Conn* c = Self(p);
  c->reply_.body_bytes += n;
  if (c->call_.keep_body) c->reply_.body.append(at, n);
  if (c->hasher_) c->hasher_->Update(std::string_view(at, n));
  return 0;
}

int Conn::OnMessageComplete(llhttp_t* p) {
  Self(p)->complete_ = true;
  return HPE_PAUSED;
}

void Conn::Finish(const std::string& err) {
  if (!busy_) return;
  busy_ = false;
  const bool server_closes = reply_.Header("connection") == "close" ||
                             (!discarding_ && !llhttp_should_keep_alive(&parser_));
  if (!err.empty() || call_.close || server_closes)
    CloseSocket();
  else
    SetEvents(0);
  if (hasher_ && err.empty()) reply_.digest = hasher_->Final().str();
  Done d = std::move(done_);
  d(err, reply_);
}

}  // namespace wharf::bench
