// ProxyService: the pull-through cache's state and policy.
//
// Routing: a request without `ns` goes to proxy.default_registry (docker's
// registry-mirrors requests look like /v2/library/alpine/...); `?ns=<host>`
// (containerd) selects that registry; `/v2/<registry-host>/<repo>/...` works
// too for configured registries. A repository that was pushed locally
// always wins over the proxy (the caller checks that first).
//
// Cached content lives in ordinary storage under an internal repository
// name "~<registry>/<repo>", which no client can name (names never start
// with '~') and which the catalog does not list.
//
// Manifests: by digest they are immutable; by tag they are fresh for
// proxy.manifest_ttl_seconds, then revalidated with a HEAD (which Docker Hub
// does not count against its pull limit) and fetched again only if the
// digest changed. Concurrent revalidations of one tag are coalesced; if
// every upstream fails, the stale copy is served and a warning logged; a
// 404 is remembered for proxy.negative_ttl_seconds.
//
// Thread-safety: thread-safe. Upstream work runs on fetch threads.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "http/request.h"
#include "proxy/blob_fetcher.h"
#include "proxy/fetch_pool.h"
#include "proxy/proxy_metrics.h"
#include "proxy/upstream.h"
#include "registry/evictor.h"
#include "registry/manifest.h"
#include "registry/reference.h"

namespace wharf::registry {

struct Services;

// The outcome of one upstream job, shared by everyone waiting for it.
class UpstreamJob {
 public:
  // Runs `fn` once the job is done (at once if it is); `fn` may run on a
  // fetch thread.
  void WhenDone(std::function<void()> fn);
  void Finish(Status st, int upstream_status, std::string body = {}, std::string content_type = {});

  bool done();
  Status status();          // kUnavailable: no upstream answered usefully
  int upstream_status();    // the upstream's HTTP status, 0 if none
  bool stale = false;       // set before Finish: an old copy is served
  std::string reference;    // set before Finish: the manifest tag or digest fetched
  std::string body;         // passthrough answers (tags, referrers)
  std::string content_type;

 private:
  std::mutex mu_;
  bool done_ = false;
  Status st_;
  int upstream_status_ = 0;
  std::vector<std::function<void()>> waiters_;
};

class ProxyService {
 public:
  ProxyService(Services* s, const ProxyConfig& cfg);
  ~ProxyService();

  // The upstream for this request, or nullptr. `*repo` becomes the name as
  // the upstream knows it: a path-prefix registry host is removed, and a
  // one-component name on docker.io gets Docker Hub's "library/".
  proxy::Upstream* Route(const http::Request& req, std::string* repo);
  // Whether `repo` (as Route() left it) may be pulled through `up` or its
  // cached copy deleted: under one of proxy.registries.<name>.allow, or that
  // list is empty.
  bool Allowed(const proxy::Upstream& up, std::string_view repo) const;
  static std::string StoreRepo(const proxy::Upstream& up, const std::string& repo) {
    return StoreRepo(up.name(), repo);
  }
  static std::string StoreRepo(const std::string& registry, const std::string& repo) {
    return "~" + registry + "/" + repo;
  }
  bool read_only() const { return cfg_.read_only; }

  proxy::BlobFetcher& blobs() { return *blob_fetcher_; }
  Evictor& evictor() { return *evictor_; }
  proxy::ProxyMetrics& metrics() { return metrics_; }
  // Counters and per-mirror health in the Prometheus text format.
  std::string RenderMetrics();
  // HEAD of an uncached blob, answered from the upstream.
  std::shared_ptr<UpstreamJob> HeadBlob(proxy::Upstream* up, const std::string& repo,
                                        const Digest& d);
  // Brings the manifest into the local store (or confirms it is current).
  std::shared_ptr<UpstreamJob> Manifest(proxy::Upstream* up, const std::string& repo,
                                        const Reference& ref);
  // A GET passed through (tags list, referrers); the answer is in the job.
  std::shared_ptr<UpstreamJob> PassThrough(proxy::Upstream* up, const std::string& repo,
                                           const std::string& path);
  // True if the tag was checked within the TTL; `negative` if upstream said 404.
  bool Fresh(const std::string& store_repo, const std::string& tag, bool* negative);

 private:
  struct Freshness {
    int64_t checked_ms = 0;
    int64_t negative_until_ms = 0;
  };
  static constexpr char kDockerHub[] = "docker.io";
  // Route() before the docker.io name rule.
  proxy::Upstream* Pick(const http::Request& req, std::string* repo);
  // An upstream with the configured timeouts and mirror back-off.
  std::unique_ptr<proxy::Upstream> MakeUpstream(proxy::UpstreamConfig uc) const;
  // One upstream job per key at a time; runs on the metadata pool under the
  // upstream's name (see FetchPool's per-upstream share).
  std::shared_ptr<UpstreamJob> Coalesce(const proxy::Upstream* up, const std::string& key,
                                        std::function<void(UpstreamJob&)> work);
  void FetchManifest(proxy::Upstream* up, const std::string& repo, const Reference& ref,
                     UpstreamJob& job);
  Status StoreManifest(const std::string& store_repo, const std::string& tag,
                       const std::string& body, const ParsedManifest& m, const Digest& digest);

  Services* s_;
  ProxyConfig cfg_;
  std::shared_ptr<const proxy::Egress> egress_;  // shared by every upstream's client
  proxy::ProxyMetrics metrics_;
  std::map<std::string, std::unique_ptr<proxy::Upstream>> upstreams_;
  std::unique_ptr<Evictor> evictor_;
  std::unique_ptr<proxy::FetchPool> blob_pool_;
  std::unique_ptr<proxy::FetchPool> meta_pool_;
  std::unique_ptr<proxy::BlobFetcher> blob_fetcher_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<UpstreamJob>> jobs_;
  std::unordered_map<std::string, Freshness> fresh_;
};

}  // namespace wharf::registry
