// HttpClient: a small blocking HTTP/1.1 client for upstream registries.
//
// It runs on the proxy's fetch threads, never on an event loop: every call
// blocks until the response is complete, and time limits (connect, first
// byte, stall) bound each wait. Responses are parsed with llhttp and the body
// is handed to a callback as it arrives, so a multi-GiB blob never sits in
// memory. TLS uses the same library as the server (BoringSSL or OpenSSL 3),
// verifying against the system CA bundle plus an optional extra CA file.
// Idle keep-alive connections are pooled per scheme://host:port (or Unix
// socket). With an Egress, TCP connections go through the forward proxy it
// names for each URL.
//
// Thread-safety: all methods are thread-safe; one call uses one connection.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "proxy/egress.h"
#include "proxy/url.h"
#include "util/status.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace wharf::proxy {

struct Timeouts {
  int connect_ms = 10000;
  int first_byte_ms = 30000;
  int stall_ms = 60000;
};

struct ClientRequest {
  std::string method = "GET";
  Url url;
  std::vector<std::pair<std::string, std::string>> headers;
  // Sent with a Content-Length after the head, in the same write; for small
  // bodies (a webhook's events), never a blob.
  std::string body;
  // Called on the calling thread once the request is on the wire, before
  // the answer is read (optional).
  std::function<void()> on_sent;
};

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  bool has_length = false;
  uint64_t content_length = 0;
  // A non-2xx answer's own explanation (RegistryErrorMessage of its body),
  // filled in by Upstream; empty otherwise.
  std::string error_message;
  std::string Header(std::string_view lower_name) const;
};

// Receives body bytes; an error stops the transfer and is returned by Do().
using BodyFn = std::function<Status(std::string_view)>;

class HttpClient {
 public:
  // `extra_ca_file` may be empty. Errors in the CA files are logged.
  // `egress` (shared, may be null: every connection direct) picks the
  // forward proxy for each URL.
  explicit HttpClient(const std::string& extra_ca_file = {},
                      std::shared_ptr<const Egress> egress = nullptr);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Performs one request (no redirects, no auth: see Upstream). The head goes
  // to *resp; the body (unless HEAD) to on_body. kUnavailable for
  // connection, TLS, timeout and protocol failures.
  Status Do(const ClientRequest& req, const Timeouts& t, ClientResponse* resp,
            const BodyFn& on_body);
  // Cuts every call in progress (its connect, handshake or read fails at
  // once) and makes later calls fail with kUnavailable: for shutdown, so
  // that no thread waits out a timeout on a silent upstream.
  void Abort();

 private:
  struct Conn {
    int fd = -1;
    SSL* ssl = nullptr;
  };
  // A connection to `u`, through `via` (may be null) when it is set.
  Result<Conn> Connect(const Url& u, const EgressProxy* via, const Timeouts& t);
  Result<Conn> ConnectUnix(const std::string& path);
  // Asks the proxy on `c` for a tunnel to `u` (CONNECT).
  Status Tunnel(Conn& c, const Url& u, const EgressProxy& via, const Timeouts& t);
  void Drop(Conn& c);
  bool TakeIdle(const std::string& key, Conn* out);
  // Connections in use are tracked so that Abort() can cut them; Track()
  // is false once aborted.
  bool Track(int fd);
  void Untrack(int fd);
  void PutIdle(const std::string& key, Conn c);
  // One request on `c`: sends `head`, calls on_sent (may be empty), reads
  // the answer's head into *resp and, unless `no_body`, its body into
  // on_body. `peer` names the other end in errors.
  Status Exchange(Conn& c, const std::string& head, bool no_body, const std::string& peer,
                  const Timeouts& t, const std::function<void()>& on_sent, ClientResponse* resp,
                  const BodyFn& on_body, bool* reusable, bool* got_bytes);

  SSL_CTX* ctx_;
  std::shared_ptr<const Egress> egress_;
  std::mutex mu_;
  std::map<std::string, std::vector<Conn>> idle_;
  std::set<int> busy_;
  bool aborted_ = false;
};

}  // namespace wharf::proxy
