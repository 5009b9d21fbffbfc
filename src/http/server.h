// Server: the listening sockets and the worker loops.
//
// Listen() binds one SO_REUSEPORT socket per worker on the configured
// address, after checking (without SO_REUSEPORT) that no other process holds
// the port, so two instances can never silently share it. Start() runs the
// workers; Drain()/CloseAll() stop them; Join() waits for them.
//
// Thread-safety: Listen/Start/Join from one controlling thread; Drain and
// CloseAll from any thread (they only post to the workers).
#pragma once

#include <memory>
#include <vector>

#include "config/config.h"
#include "http/access_log.h"
#include "http/handler.h"
#include "http/tls.h"
#include "http/worker.h"
#include "util/metrics.h"
#include "util/status.h"

namespace wharf::http {

class Server {
 public:
  // `handler` and `metrics` must outlive the server; metrics needs a shard
  // per worker, plus one for the admin socket. If `admin_socket` is not
  // empty, a Unix socket (mode 0600) is served there by an extra worker;
  // its connections have the peer name "unix".
  // With `tls` (not owned; must outlive the server), http.addr speaks TLS and
  // http.plain_addr, if set, plain HTTP.
  Server(const HttpConfig& cfg, int workers, Handler* handler, Metrics* metrics,
         std::string admin_socket = {}, TlsProvider* tls = nullptr);
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server();

  // Errors name the config key: "http.addr: 0.0.0.0:5000: address already in use".
  Status Listen();
  void Start();
  // Stop accepting and finish in-flight requests.
  void Drain();
  // Close every connection now.
  void CloseAll();
  void Join();
  // The bound port (useful when http.addr asks for port 0).
  uint16_t port() const { return port_; }

 private:
  HttpConfig cfg_;
  int n_workers_;
  AccessLog access_log_;
  ServerShared shared_;
  Status Bind(const std::string& host, uint16_t port, const char* key, bool tls);
  Status BindAdmin();

  std::string admin_socket_;
  std::vector<std::vector<ListenerSpec>> per_worker_;  // [worker] -> listeners
  std::vector<int> fds_;  // every fd, for cleanup before Start()
  std::vector<std::unique_ptr<Worker>> workers_;
  uint16_t port_ = 0;
};

}  // namespace wharf::http
