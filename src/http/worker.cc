#include "http/worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/rand.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "http/connection.h"
#include "http/tls.h"
#include "util/log.h"

namespace wharf::http {
namespace {

constexpr uint64_t kAcceptBackoffMs = 200;

std::string PeerString(const sockaddr_storage& ss) {
  char ip[INET6_ADDRSTRLEN] = "?";
  char out[INET6_ADDRSTRLEN + 16];
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    snprintf(out, sizeof out, "%s:%u", ip, ntohs(a->sin_port));
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    snprintf(out, sizeof out, "[%s]:%u", ip, ntohs(a->sin6_port));
  } else {
    snprintf(out, sizeof out, "unix");
  }
  return out;
}

}  // namespace

Worker::Worker(int index, std::vector<ListenerSpec> listeners, ServerShared* shared)
    : index_(index), shared_(shared) {
  RAND_bytes(reinterpret_cast<uint8_t*>(&id_prefix_), sizeof id_prefix_);
  uv_loop_init(&loop_);
  for (const ListenerSpec& spec : listeners) {
    auto l = std::make_unique<Listener>();
    l->w = this;
    l->spec = spec;
    uv_poll_init_socket(&loop_, &l->poll, spec.fd);
    l->poll.data = l.get();
    listeners_.push_back(std::move(l));
  }
  uv_async_init(&loop_, &wake_, OnWake);
  wake_.data = this;
  uv_async_init(&loop_, &stream_wake_, OnStreamWake);
  stream_wake_.data = this;
  uv_async_init(&loop_, &post_wake_, OnPosted);
  post_wake_.data = this;
  uv_timer_init(&loop_, &accept_backoff_);
  accept_backoff_.data = this;
}

Worker::~Worker() { uv_loop_close(&loop_); }

void Worker::SetListening(bool on) {
  if (on == listening_) return;
  listening_ = on;
  for (auto& l : listeners_) {
    if (on)
      uv_poll_start(&l->poll, UV_READABLE, OnAccept);
    else
      uv_poll_stop(&l->poll);
  }
}

void Worker::Start() {
  SetListening(true);
  thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::RequestDrain() {
  int expected = 0;
  command_.compare_exchange_strong(expected, 1);
  uv_async_send(&wake_);
}

void Worker::RequestClose() {
  command_.store(2);
  uv_async_send(&wake_);
}

void Worker::OnWake(uv_async_t* h) {
  auto* w = static_cast<Worker*>(h->data);
  int cmd = w->command_.load();
  if (cmd >= 1 && !w->draining_) w->Drain();
  if (cmd == 2) {
    for (Connection* c = w->conns_; c;) {
      Connection* next = c->next;
      c->Close();
      c = next;
    }
  }
  w->MaybeFinish();
}

void Worker::OnStreamWake(uv_async_t* h) {
  auto* w = static_cast<Worker*>(h->data);
  std::unordered_set<Connection*> ready;
  ready.swap(w->stream_waiters_);
  for (Connection* c : ready) c->OnStreamGrew();
}

void Worker::Post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(post_mu_);
    posted_.push_back(std::move(fn));
  }
  uv_async_send(&post_wake_);
}

void Worker::OnPosted(uv_async_t* h) {
  auto* w = static_cast<Worker*>(h->data);
  std::vector<std::function<void()>> run;
  {
    std::lock_guard<std::mutex> lock(w->post_mu_);
    run.swap(w->posted_);
  }
  for (auto& fn : run) fn();
}

void Worker::Drain() {
  for (auto& l : listeners_) AcceptSome(*l);  // take what the kernel already queued for us
  draining_ = true;
  SetListening(false);
  for (auto& l : listeners_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&l->poll), nullptr);
    ::close(l->spec.fd);
    l->spec.fd = -1;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&accept_backoff_), nullptr);
  for (Connection* c = conns_; c;) {
    Connection* next = c->next;
    c->Drain();
    c = next;
  }
}

void Worker::MaybeFinish() {
  if (!draining_ || n_conns_ > 0 || finished_) return;
  finished_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&wake_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&stream_wake_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&post_wake_), nullptr);
}

void Worker::OnAccept(uv_poll_t* h, int status, int) {
  auto* l = static_cast<Listener*>(h->data);
  if (status < 0) {
    WLOG_ERROR("worker %d: listener error: %s", l->w->index_, uv_strerror(status));
    return;
  }
  l->w->AcceptSome(*l);
}

void Worker::OnResumeAccept(uv_timer_t* h) {
  auto* w = static_cast<Worker*>(h->data);
  if (!w->draining_) w->SetListening(true);
}

void Worker::Refuse(int fd) {
  static const std::string kMsg =
      CannedError(503, "UNAVAILABLE", "too many connections", "Retry-After: 1\r\n");
  ssize_t n = ::send(fd, kMsg.data(), kMsg.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)n;  // best effort: the socket is new and its buffer empty
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
  metrics().ConnRefused();
}

void Worker::AcceptSome(Listener& l) {
  if (l.spec.fd < 0) return;
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = accept4(l.spec.fd, reinterpret_cast<sockaddr*>(&ss), &sl,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: the pending connection stays queued and the
        // level-triggered poll would spin. Pause accepting for a moment.
        uint64_t now = uv_now(&loop_);
        if (now - last_fd_warning_ms_ > 10000) {
          WLOG_WARN("worker %d: accept: %s; pausing accepts", index_, strerror(errno));
          last_fd_warning_ms_ = now;
        }
        SetListening(false);
        uv_timer_start(&accept_backoff_, OnResumeAccept, kAcceptBackoffMs, 0);
        return;
      }
      WLOG_WARN("worker %d: accept: %s", index_, strerror(errno));
      return;
    }
    uint32_t before = shared_->open_connections.fetch_add(1);
    if (before >= shared_->limits.max_connections) {
      shared_->open_connections.fetch_sub(1);
      Refuse(fd);
      continue;
    }
    int one = 1;
    if (ss.ss_family != AF_UNIX) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL* ssl = nullptr;
    if (l.spec.tls) {
      auto ctx = shared_->tls->Current();
      ssl = ctx ? ctx->NewSession() : nullptr;
      if (!ssl) {
        shared_->open_connections.fetch_sub(1);
        ::close(fd);
        WLOG_ERROR("worker %d: cannot create a TLS session", index_);
        continue;
      }
    }
    auto* c = new Connection(this, fd, PeerString(ss), ssl);
    Attach(c);
    c->Start();
  }
}

void Worker::AssignRequestId(Request& req) {
  if (const std::string* given = req.Find("x-request-id")) {
    bool ok = !given->empty() && given->size() <= req.id_buf.size();
    for (char ch : *given)
      ok = ok && (isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.');
    if (ok) {
      memcpy(req.id_buf.data(), given->data(), given->size());
      req.id_len = static_cast<uint8_t>(given->size());
      return;
    }
  }
  int n = snprintf(req.id_buf.data(), req.id_buf.size(), "%08x%012llx", id_prefix_,
                   static_cast<unsigned long long>(++id_counter_ & 0xffffffffffffull));
  req.id_len = static_cast<uint8_t>(n);
}

void Worker::Attach(Connection* c) {
  c->next = conns_;
  if (conns_) conns_->prev = c;
  conns_ = c;
  ++n_conns_;
  metrics().ConnOpened();
}

void Worker::Detach(Connection* c) {
  if (c->prev) c->prev->next = c->next;
  else conns_ = c->next;
  if (c->next) c->next->prev = c->prev;
  c->next = c->prev = nullptr;
  --n_conns_;
  shared_->open_connections.fetch_sub(1);
  metrics().ConnClosed();
  MaybeFinish();
}

void Worker::LogTlsFailure(const std::string& peer, const std::string& why) {
  constexpr uint64_t kIntervalMs = 10 * 60 * 1000;
  std::string ip = peer.substr(0, peer.rfind(':'));
  uint64_t now = uv_now(&loop_);
  {
    std::lock_guard<std::mutex> lock(shared_->tls_log_mu);
    auto& seen = shared_->tls_failures;
    auto it = seen.find(ip);
    if (it != seen.end() && now - it->second < kIntervalMs) return;
    if (seen.size() > 4096) seen.clear();  // bound the memory
    seen[ip] = now;
  }
  WLOG_INFO("TLS handshake with %s failed: %s (further failures from %s are not logged for 10 minutes)",
            peer.c_str(), why.c_str(), ip.c_str());
}

std::string_view Worker::DateHeader() {
  time_t now = time(nullptr);
  if (now != date_sec_) {
    date_sec_ = now;
    tm t;
    gmtime_r(&now, &t);
    strftime(date_, sizeof date_, "%a, %d %b %Y %H:%M:%S GMT", &t);
  }
  return date_;
}

}  // namespace wharf::http
