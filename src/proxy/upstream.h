// Upstream: one upstream registry (e.g. docker.io) reached through an
// ordered list of mirrors, with failover, mirror health, registry auth and
// redirects. Blocking: call it from the proxy's fetch threads only.
//
// For each request, mirrors are tried in order, skipping ones marked
// unhealthy (unless all are). A connect/TLS/timeout error, a 5xx or a 429
// before the first body byte moves on to the next mirror; so does a 404, 401
// or 403, since mirrors often hold only some images (a partial or
// whitelisting mirror) and the next one may have it. A body cut mid-way
// resumes with a Range request on the same or the next mirror, so the caller
// sees one uninterrupted body. A mirror that fails three times in a row is
// skipped for `unhealthy_ms`; a "not here" answer is no failure.
//
// Auth: a 401 with a Bearer challenge fetches a token from the realm
// (anonymously, or with the mirror's own login) and retries; tokens are
// cached per mirror and scope until shortly before they expire. A Basic
// challenge retries with the configured credentials. Clients' own
// Authorization headers are never forwarded. Redirects (e.g. a 307 to a
// presigned CDN URL) are followed without any Authorization header.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "proxy/http_client.h"
#include "proxy/url.h"

namespace wharf::proxy {

// A mirror's base URL and the login that goes to it (and to the token
// service it names) and nowhere else; empty: anonymous.
struct MirrorSpec {
  std::string url;
  std::string username, password;
};

struct UpstreamConfig {
  std::string name;                  // "docker.io"
  std::vector<MirrorSpec> mirrors;   // in order
  std::string ca_file;               // extra CA for these mirrors
  std::shared_ptr<const Egress> egress;  // forward proxy; null: direct
};

struct FetchOptions {
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Accept
  // Called each time the request is on the wire to a mirror (again after a
  // failover or a resume), while the upstream works on it: local
  // preparations then cost no latency. Optional.
  std::function<void()> on_sent;
};

class Upstream {
 public:
  Upstream(UpstreamConfig cfg, Timeouts timeouts, int unhealthy_ms);
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;

  const std::string& name() const { return cfg_.name; }

  // Performs `method` ("GET" or "HEAD") on `path` ("/v2/<repo>/...") for
  // repository `repo`. The final response head goes to *resp. For a 2xx GET
  // the body goes to on_body (resumed transparently after cuts); for other
  // statuses it is discarded, its error message kept in resp->error_message.
  // An error from on_body ends the call with it, unless it is kInvalid
  // before on_body kept any byte from this mirror: then the mirror's bytes
  // are wrong (they failed the caller's check), it is marked bad and the
  // next mirror is asked.
  // OK with the answer in *resp when a mirror answered 2xx, and when the last
  // mirror that answered said 404, 401 or 403 (no mirror has it, or none
  // lets us have it). kUnavailable when every mirror failed: the message
  // names each mirror's failure (its status and the registry's own message,
  // e.g. Docker Hub's pull rate limit), and *resp holds the last answer a
  // mirror gave (e.g. a 429), or status 0 if none answered.
  // `served_by` (optional) gets the origin of the mirror that answered.
  Status Fetch(const std::string& method, const std::string& repo, const std::string& path,
               const FetchOptions& opt, ClientResponse* resp, const BodyFn& on_body,
               std::string* served_by = nullptr);
  // A mirror sent content that failed verification: skip it for the
  // unhealthy period, so the next request goes to another mirror.
  void MarkBad(const std::string& origin);
  // Asks mirror `i` (< mirror_count()) for /v2/, which every registry
  // answers (200, or 401 before a login), and logs the result. A mirror
  // that does not answer so is skipped for the unhealthy period, so that no
  // client waits on it first; the connection to one that does stays open
  // for the first pull. Blocks up to the timeouts: run it on a fetch thread.
  void Probe(size_t i);
  size_t mirror_count() const { return mirrors_.size(); }
  // Cuts every upstream call in progress and fails later ones at once: for
  // shutdown (see HttpClient::Abort).
  void Abort() { client_.Abort(); }
  struct MirrorState {
    std::string origin;
    bool healthy = true;  // false while skipped
    // The pull rate limit the mirror announced on its latest answer that
    // had one (RateLimit-Limit / RateLimit-Remaining, as Docker Hub sends
    // on manifest requests, HEAD included); -1 when it never did.
    int64_t ratelimit_limit = -1;
    int64_t ratelimit_remaining = -1;
  };
  // Each mirror's state, in configuration order, for metrics.
  std::vector<MirrorState> Mirrors();
  // Seconds (rounded up) until the Retry-After of the latest 429 a mirror
  // answered runs out; 0 when none runs. For the 429 passed on to clients.
  int64_t RetryAfterSeconds();

 private:
  struct Mirror {
    Url base;                 // up to the API's /v2, exclusive
    std::string repo_prefix;  // "" or "<prefix>/", before every repository name
    std::string basic_auth;   // "Basic <credentials>" of its login, or empty
    int failures = 0;
    int64_t unhealthy_until_ms = 0;
    bool basic = false;  // answered a Basic challenge before
    int64_t ratelimit_limit = -1, ratelimit_remaining = -1;  // see MirrorState
  };
  struct Token {
    std::string value;
    int64_t expires_ms = 0;
  };
  // One attempt on one mirror: auth and redirects. `offset` > 0 asks for a
  // Range from there; bytes before `offset` in a 200 answer are skipped.
  Status Attempt(Mirror& m, const std::string& method, const std::string& repo,
                 const std::string& path, const FetchOptions& opt, uint64_t* offset,
                 ClientResponse* resp, const BodyFn& on_body);
  Status GetToken(const Mirror& m, const std::string& challenge, const std::string& repo,
                  std::string* token);
  void MarkResult(Mirror& m, bool ok);
  // Keeps the rate limit an answer of `m` announced, if any.
  void NoteRateLimit(Mirror& m, const ClientResponse& resp);
  // Keeps the Retry-After of a 429, if any.
  void NoteRetryAfter(const ClientResponse& resp);
  void MarkDown(Mirror& m);  // caller holds mu_

  UpstreamConfig cfg_;
  Timeouts timeouts_;
  int unhealthy_ms_;
  HttpClient client_;
  std::mutex mu_;
  std::vector<Mirror> mirrors_;
  std::map<std::string, Token> tokens_;  // "<origin> <scope>" -> token
  int64_t retry_until_ms_ = 0;           // see RetryAfterSeconds
};

}  // namespace wharf::proxy
