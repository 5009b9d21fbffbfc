#include "http/server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace wharf::http {

Server::Server(const HttpConfig& cfg, int workers, Handler* handler, Metrics* metrics,
               std::string admin_socket, TlsProvider* tls)
    : cfg_(cfg), n_workers_(workers), access_log_(cfg.access_log),
      admin_socket_(std::move(admin_socket)) {
  shared_.limits = cfg.limits;
  shared_.handler = handler;
  shared_.metrics = metrics;
  shared_.access_log = &access_log_;
  shared_.tls = tls;
  for (const auto& [name, value] : cfg.headers) shared_.extra_headers += name + ": " + value + "\r\n";
  per_worker_.resize(static_cast<size_t>(workers));
}

Server::~Server() {
  if (workers_.empty())
    for (int fd : fds_) ::close(fd);
}

Status Server::Bind(const std::string& host, uint16_t want_port, const char* key, bool tls) {
  auto bad = [&](const std::string& what) {
    return Invalid(std::string(key) + ": " + host + ":" + std::to_string(want_port) + ": " + what);
  };
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* ai = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(want_port).c_str(), &hints, &ai);
  if (rc != 0) return bad(gai_strerror(rc));
  sockaddr_storage addr{};
  socklen_t alen = static_cast<socklen_t>(ai->ai_addrlen);
  memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
  int family = ai->ai_family;
  freeaddrinfo(ai);

  auto make = [&](bool reuseport, int* out) -> Status {
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return bad(std::string("socket: ") + strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), alen) != 0) {
      int e = errno;
      ::close(fd);
      return bad(e == EADDRINUSE ? "address already in use" : strerror(e));
    }
    *out = fd;
    return Status();
  };
  if (want_port != 0) {
    // A socket without SO_REUSEPORT fails if anyone else holds the port, so
    // two instances can never silently share it.
    int probe;
    WHARF_RETURN_IF_ERROR(make(false, &probe));
    ::close(probe);
  }
  for (int i = 0; i < n_workers_; ++i) {
    int fd;
    WHARF_RETURN_IF_ERROR(make(true, &fd));
    fds_.push_back(fd);
    if (listen(fd, 4096) != 0) return bad(std::string("listen: ") + strerror(errno));
    per_worker_[static_cast<size_t>(i)].push_back(ListenerSpec{fd, tls});
    if (i == 0) {
      // With port 0 the kernel picked one; the other workers join it.
      sockaddr_storage got{};
      socklen_t gl = sizeof got;
      getsockname(fd, reinterpret_cast<sockaddr*>(&got), &gl);
      uint16_t p = got.ss_family == AF_INET6
                       ? ntohs(reinterpret_cast<sockaddr_in6*>(&got)->sin6_port)
                       : ntohs(reinterpret_cast<sockaddr_in*>(&got)->sin_port);
      if (port_ == 0) port_ = p;
      if (family == AF_INET6)
        reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(p);
      else
        reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(p);
    }
  }
  return Status();
}

Status Server::BindAdmin() {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  if (admin_socket_.size() >= sizeof un.sun_path)
    return Invalid("storage.root: admin socket path too long: " + admin_socket_);
  memcpy(un.sun_path, admin_socket_.c_str(), admin_socket_.size() + 1);
  ::unlink(admin_socket_.c_str());  // a stale socket of a previous run
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  mode_t old = ::umask(0177);
  int rc = fd < 0 ? -1 : bind(fd, reinterpret_cast<sockaddr*>(&un), sizeof un);
  ::umask(old);
  if (rc != 0 || listen(fd, 64) != 0) {
    int e = errno;
    if (fd >= 0) ::close(fd);
    return Invalid("storage.root: admin socket " + admin_socket_ + ": " + strerror(e));
  }
  fds_.push_back(fd);
  per_worker_.push_back({ListenerSpec{fd, false}});
  return Status();
}

Status Server::Listen() {
  const bool tls = shared_.tls != nullptr;
  WHARF_RETURN_IF_ERROR(Bind(cfg_.host, cfg_.port, "http.addr", tls));
  if (tls && !cfg_.plain_addr.empty())
    WHARF_RETURN_IF_ERROR(Bind(cfg_.plain_host, cfg_.plain_port, "http.plain_addr", false));
  if (!admin_socket_.empty()) WHARF_RETURN_IF_ERROR(BindAdmin());
  return Status();
}

void Server::Start() {
  for (size_t i = 0; i < per_worker_.size(); ++i)
    workers_.push_back(std::make_unique<Worker>(static_cast<int>(i), per_worker_[i], &shared_));
  for (auto& w : workers_) w->Start();
}

void Server::Drain() {
  for (auto& w : workers_) w->RequestDrain();
}

void Server::CloseAll() {
  for (auto& w : workers_) w->RequestClose();
}

void Server::Join() {
  for (auto& w : workers_) w->Join();
}

}  // namespace wharf::http
