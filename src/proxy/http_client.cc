#include "proxy/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <llhttp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>

#include "util/log.h"

namespace wharf::proxy {
namespace {

constexpr char kCaBundle[] = "/etc/ssl/certs/ca-certificates.crt";
constexpr size_t kMaxIdlePerHost = 8;
constexpr size_t kReadBuf = 1 << 20;
constexpr size_t kFirstRead = 64 << 10;  // a response's first read

Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }

// A response's read buffer, kept by the thread between exchanges: a fresh
// megabyte page-faults on each of its pages at the first read, which is on
// the way of the first bytes. Safe to nest (a nested exchange gets its own).
class ReadBuffer {
 public:
  ReadBuffer() : buf_(spare_ ? std::move(spare_) : std::make_unique_for_overwrite<char[]>(kReadBuf)) {}
  ~ReadBuffer() { spare_ = std::move(buf_); }
  ReadBuffer(const ReadBuffer&) = delete;
  ReadBuffer& operator=(const ReadBuffer&) = delete;
  char* get() { return buf_.get(); }

 private:
  static thread_local std::unique_ptr<char[]> spare_;
  std::unique_ptr<char[]> buf_;
};

thread_local std::unique_ptr<char[]> ReadBuffer::spare_;

void SetTimeout(int fd, int opt, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv);
}

std::string TlsErrorText() {
  char buf[256] = "unknown";
  if (unsigned long e = ERR_get_error()) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

// Parser state for one response.
struct Parse {
  ClientResponse* resp = nullptr;
  const BodyFn* on_body = nullptr;
  bool head_request = false;
  bool done = false;
  bool in_value = false;
  Status body_status;
  size_t header_bytes = 0;
};

Parse* P(llhttp_t* p) { return static_cast<Parse*>(p->data); }

int OnField(llhttp_t* p, const char* at, size_t n) {
  Parse* s = P(p);
  if ((s->header_bytes += n) > 256 * 1024) return -1;
  if (s->resp->headers.empty() || s->in_value) s->resp->headers.emplace_back();
  s->in_value = false;
  for (size_t i = 0; i < n; ++i)
    s->resp->headers.back().first += static_cast<char>(std::tolower(static_cast<unsigned char>(at[i])));
  return 0;
}
int OnValue(llhttp_t* p, const char* at, size_t n) {
  Parse* s = P(p);
  if ((s->header_bytes += n) > 256 * 1024) return -1;
  s->in_value = true;
  if (!s->resp->headers.empty()) s->resp->headers.back().second.append(at, n);
  return 0;
}
int OnHeadersDone(llhttp_t* p) {
  Parse* s = P(p);
  s->resp->status = p->status_code;
  s->resp->has_length = (p->flags & F_CONTENT_LENGTH) != 0;
  s->resp->content_length = s->resp->has_length ? p->content_length : 0;
  return s->head_request ? 1 : 0;  // 1: a HEAD response has no body
}
int OnBody(llhttp_t* p, const char* at, size_t n) {
  Parse* s = P(p);
  s->body_status = (*s->on_body)(std::string_view(at, n));
  return s->body_status.ok() ? 0 : HPE_USER;
}
int OnDone(llhttp_t* p) {
  P(p)->done = true;
  return HPE_PAUSED;
}

const llhttp_settings_t* Settings() {
  static const llhttp_settings_t s = [] {
    llhttp_settings_t x;
    llhttp_settings_init(&x);
    x.on_header_field = OnField;
    x.on_header_value = OnValue;
    x.on_headers_complete = OnHeadersDone;
    x.on_body = OnBody;
    x.on_message_complete = OnDone;
    return x;
  }();
  return &s;
}

bool IsIp(const std::string& h) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, h.c_str(), &a4) == 1 || inet_pton(AF_INET6, h.c_str(), &a6) == 1;
}

// The request line and headers of `req`; through a proxy, a plain-HTTP
// request names its whole URL (absolute form) and carries the proxy's
// credentials.
std::string RequestHead(const ClientRequest& req, const EgressProxy* forward) {
  const Url& u = req.url;
  std::string host = u.HostPort();  // "host:port", an IPv6 host in brackets
  if (u.port == (u.tls ? 443 : 80)) host.resize(host.rfind(':'));
  std::string head = req.method + " " + (forward ? "http://" + host + u.path : u.path) +
                     " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: wharf/" WHARF_VERSION "\r\n";
  if (forward && !forward->authorization.empty())
    head += "Proxy-Authorization: " + forward->authorization + "\r\n";
  for (const auto& [k, v] : req.headers) head += k + ": " + v + "\r\n";
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT")
    head += "Content-Length: " + std::to_string(req.body.size()) + "\r\n";
  head += "\r\n";
  head += req.body;
  return head;
}

}  // namespace

std::string ClientResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

HttpClient::HttpClient(const std::string& extra_ca_file, std::shared_ptr<const Egress> egress)
    : ctx_(SSL_CTX_new(TLS_client_method())), egress_(std::move(egress)) {
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(ctx_, kCaBundle, nullptr) != 1)
    WLOG_WARN("proxy: cannot load the CA bundle %s: %s", kCaBundle, TlsErrorText().c_str());
  if (!extra_ca_file.empty() &&
      SSL_CTX_load_verify_locations(ctx_, extra_ca_file.c_str(), nullptr) != 1)
    WLOG_ERROR("proxy: cannot load CA file %s: %s", extra_ca_file.c_str(), TlsErrorText().c_str());
}

HttpClient::~HttpClient() {
  for (auto& [k, v] : idle_)
    for (Conn& c : v) Drop(c);
  SSL_CTX_free(ctx_);
}

void HttpClient::Drop(Conn& c) {
  if (c.ssl) SSL_free(c.ssl);
  if (c.fd >= 0) ::close(c.fd);
  c = Conn{};
}

bool HttpClient::TakeIdle(const std::string& key, Conn* out) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = idle_.find(key);
  while (it != idle_.end() && !it->second.empty()) {
    Conn c = it->second.back();
    it->second.pop_back();
    // A pooled connection that is readable now was closed by the peer.
    pollfd pfd{c.fd, POLLIN, 0};
    if (poll(&pfd, 1, 0) == 0) {
      *out = c;
      return true;
    }
    Drop(c);
  }
  return false;
}

bool HttpClient::Track(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  if (aborted_) return false;
  busy_.insert(fd);
  return true;
}

void HttpClient::Untrack(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  busy_.erase(fd);
}

void HttpClient::Abort() {
  std::lock_guard<std::mutex> lock(mu_);
  aborted_ = true;
  // Wakes a blocked connect (even in SYN_SENT), handshake or read.
  for (int fd : busy_) ::shutdown(fd, SHUT_RDWR);
}

void HttpClient::PutIdle(const std::string& key, Conn c) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& v = idle_[key];
  if (v.size() >= kMaxIdlePerHost) {
    Drop(c);
    return;
  }
  v.push_back(c);
}

Result<HttpClient::Conn> HttpClient::Connect(const Url& u, const EgressProxy* via, const Timeouts& t) {
  if (!u.unix_socket.empty()) return ConnectUnix(u.unix_socket);
  const Url& hop = via ? via->url : u;  // where the TCP connection goes
  const std::string peer = via ? "proxy " + hop.HostPort() : u.HostPort();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* ai = nullptr;
  int rc = getaddrinfo(hop.host.c_str(), std::to_string(hop.port).c_str(), &hints, &ai);
  if (rc != 0) return Unavailable(peer + ": " + gai_strerror(rc));
  Status last = Unavailable(peer + ": no address");
  Conn c;
  for (addrinfo* a = ai; a; a = a->ai_next) {
    int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    if (!Track(fd)) {
      ::close(fd);
      last = Unavailable(peer + ": shutting down");
      break;
    }
    int r = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (r != 0 && errno == EINPROGRESS) {
      pollfd pfd{fd, POLLOUT, 0};
      int pr = poll(&pfd, 1, t.connect_ms);
      if (pr == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        r = err ? -1 : 0;
        errno = err;
      } else {
        r = -1;
        if (pr == 0) errno = ETIMEDOUT;
      }
    }
    if (r != 0) {
      last = Unavailable(peer + ": connect: " + strerror(errno ? errno : ETIMEDOUT));
      Untrack(fd);
      ::close(fd);
      continue;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c.fd = fd;
    break;
  }
  freeaddrinfo(ai);
  if (c.fd < 0) return last;
  if (!u.tls) return c;
  if (via) {
    Status st = Tunnel(c, u, *via, t);
    if (!st.ok()) {
      Untrack(c.fd);
      Drop(c);
      return st;
    }
  }
  SetTimeout(c.fd, SO_RCVTIMEO, t.connect_ms);
  SetTimeout(c.fd, SO_SNDTIMEO, t.connect_ms);
  c.ssl = SSL_new(ctx_);
  SSL_set_fd(c.ssl, c.fd);
  X509_VERIFY_PARAM* param = SSL_get0_param(c.ssl);
  if (IsIp(u.host)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, u.host.c_str());
  } else {
    SSL_set_tlsext_host_name(c.ssl, u.host.c_str());
    X509_VERIFY_PARAM_set1_host(param, u.host.c_str(), u.host.size());
  }
  ERR_clear_error();
  if (SSL_connect(c.ssl) != 1) {
    std::string why = TlsErrorText();
    long vr = SSL_get_verify_result(c.ssl);
    if (vr != X509_V_OK) why += std::string(" (") + X509_verify_cert_error_string(vr) + ")";
    Untrack(c.fd);
    Drop(c);
    return Unavailable(u.HostPort() + ": TLS: " + why);
  }
  return c;
}

Status HttpClient::Tunnel(Conn& c, const Url& u, const EgressProxy& via, const Timeouts& t) {
  std::string head = "CONNECT " + u.HostPort() + " HTTP/1.1\r\nHost: " + u.HostPort() +
                     "\r\nUser-Agent: wharf/" WHARF_VERSION "\r\n";
  if (!via.authorization.empty()) head += "Proxy-Authorization: " + via.authorization + "\r\n";
  head += "\r\n";
  const std::string peer = "proxy " + via.url.HostPort();
  // The proxy answers once it has reached the upstream (or given up).
  const Timeouts wait{t.connect_ms, t.connect_ms, t.connect_ms};
  ClientResponse resp;
  bool reusable = false, got_bytes = false;
  Status st = Exchange(c, head, /*no_body=*/true, peer, wait, {}, &resp,
                       [](std::string_view) { return Status(); }, &reusable, &got_bytes);
  if (!st.ok()) return st;
  if (resp.status / 100 != 2)
    return Unavailable(peer + " answered " + std::to_string(resp.status) + " to CONNECT " + u.HostPort() +
                       (resp.status == 407 || resp.status == 401 ? " (proxy credentials missing or wrong)" : ""));
  return Status();
}

Status HttpClient::Exchange(Conn& c, const std::string& head, bool no_body, const std::string& peer,
                            const Timeouts& t, const std::function<void()>& on_sent,
                            ClientResponse* resp, const BodyFn& on_body, bool* reusable,
                            bool* got_bytes) {
  *reusable = false;
  *got_bytes = false;
  SetTimeout(c.fd, SO_SNDTIMEO, t.stall_ms);
  size_t off = 0;
  while (off < head.size()) {
    ssize_t n = c.ssl ? SSL_write(c.ssl, head.data() + off, static_cast<int>(head.size() - off))
                      : ::send(c.fd, head.data() + off, head.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return Unavailable(peer + ": write failed");
    off += static_cast<size_t>(n);
  }
  if (on_sent) on_sent();
  *resp = ClientResponse{};
  Parse st;
  st.resp = resp;
  st.on_body = &on_body;
  st.head_request = no_body;
  llhttp_t parser;
  llhttp_init(&parser, HTTP_RESPONSE, Settings());
  parser.data = &st;
  SetTimeout(c.fd, SO_RCVTIMEO, t.first_byte_ms);
  // Large reads: fewer syscalls and parser calls per byte of a blob. The
  // first read is small, so that the head and the first bytes reach the
  // caller without waiting for a megabyte to be copied.
  ReadBuffer buf;
  bool first = true;
  while (!st.done) {
    const size_t want = first ? kFirstRead : kReadBuf;
    ssize_t n = c.ssl ? SSL_read(c.ssl, buf.get(), static_cast<int>(want)) : ::recv(c.fd, buf.get(), want, 0);
    if (n <= 0) {
      bool timeout = !c.ssl && n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
      if (c.ssl && n < 0) {
        int e = SSL_get_error(c.ssl, static_cast<int>(n));
        timeout = e == SSL_ERROR_WANT_READ;
        ERR_clear_error();
      }
      if (n == 0 || !timeout) {
        // EOF: ends a body without Content-Length; anything else is a cut.
        // (on_message_complete pauses the parser, so finishing may say so.)
        llhttp_errno_t end = llhttp_finish(&parser);
        if ((end == HPE_OK || end == HPE_PAUSED) && st.done) break;
        return Unavailable(peer + (first ? ": connection closed before a response"
                                                       : ": connection cut mid-response"));
      }
      return Unavailable(peer + (first ? ": no response in time" : ": stalled"));
    }
    if (first) {
      first = false;
      *got_bytes = true;
      SetTimeout(c.fd, SO_RCVTIMEO, t.stall_ms);
    }
    llhttp_errno_t err = llhttp_execute(&parser, buf.get(), static_cast<size_t>(n));
    if (err == HPE_PAUSED) break;
    if (err == HPE_USER) return st.body_status;
    if (err != HPE_OK) return Unavailable(peer + ": bad HTTP response: " + llhttp_errno_name(err));
  }
  *reusable = llhttp_should_keep_alive(&parser) != 0;
  return Status();
}

Result<HttpClient::Conn> HttpClient::ConnectUnix(const std::string& path) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  if (path.size() >= sizeof un.sun_path) return Unavailable(path + ": socket path too long");
  memcpy(un.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unavailable(path + ": socket: " + strerror(errno));
  if (!Track(fd)) {
    ::close(fd);
    return Unavailable(path + ": shutting down");
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&un), sizeof un) != 0) {
    Status st = Unavailable(path + ": connect: " + strerror(errno));
    Untrack(fd);
    ::close(fd);
    return st;
  }
  Conn c;
  c.fd = fd;
  return c;
}

Status HttpClient::Do(const ClientRequest& req, const Timeouts& t, ClientResponse* resp,
                      const BodyFn& on_body) {
  const std::string key = req.url.Origin();
  const EgressProxy* via = egress_ && req.url.unix_socket.empty() ? egress_->For(req.url) : nullptr;
  const EgressProxy* forward = req.url.tls ? nullptr : via;  // not tunnelled
  const std::string head = RequestHead(req, forward);
  for (int attempt = 0; attempt < 2; ++attempt) {
    Conn c;
    bool pooled = attempt == 0 && TakeIdle(key, &c);
    if (!pooled) {
      auto fresh = Connect(req.url, via, t);  // tracked already
      if (!fresh.ok()) return fresh.status();
      c = *fresh;
    } else if (!Track(c.fd)) {
      Drop(c);
      return Unavailable(req.url.HostPort() + ": shutting down");
    }
    bool reusable = false, got_bytes = false;
    Status st = Exchange(c, head, req.method == "HEAD", req.url.HostPort(), t, req.on_sent, resp,
                         on_body, &reusable, &got_bytes);
    Untrack(c.fd);
    if (st.ok() && reusable) {
      PutIdle(key, c);
    } else {
      Drop(c);
    }
    // A pooled connection the server had closed: retry once on a new one.
    if (!st.ok() && pooled && !got_bytes) continue;
    // The proxy refused the request, not the upstream: like a connect
    // error, so that the next mirror is tried.
    if (st.ok() && forward && resp->status == 407)
      return Unavailable("proxy " + forward->url.HostPort() + " answered 407 (proxy credentials missing or wrong)");
    return st;
  }
  return Unavailable(req.url.HostPort() + ": failed");
}

}  // namespace wharf::proxy
