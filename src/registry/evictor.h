// Evictor: keeps the blobs pulled through the proxy under
// proxy.cache_max_bytes, least recently used first, and makes room for a new
// one, or for pushed bytes, when the disk is full.
//
// Only blobs and manifests whose origin is "cached" are candidates: pushed
// content is never evicted (a push of the same bytes promotes them to
// pushed, and a hosted manifest can only reference blobs linked into its
// repository by a push or a mount, never cached-only blobs). An evicted
// manifest takes its tags in the proxy's repositories with it; the next
// pull of that tag fetches it again. Last access is tracked in memory; after a restart a blob's
// age counts from when it was cached. Eviction runs after each new cached
// blob and from the maintenance thread, down to 90% of the cap, and for a
// proxy fill or an upload that would not fit on the disk (MakeRoom()),
// always holding the gc lock so that it never races a manifest PUT.
//
// Thread-safety: thread-safe. MaybeEvict() and MakeRoom() are blocking (file
// deletions).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "proxy/proxy_metrics.h"
#include "util/status.h"

namespace wharf::registry {

struct Services;

class Evictor {
 public:
  // `cached_bytes`: what is cached now, from the startup scan that
  // StorageStats makes anyway (a second scan of every blob record would
  // double the startup time of a large store).
  Evictor(Services* s, uint64_t cap_bytes, uint64_t cached_bytes, proxy::ProxyMetrics* metrics);
  void Touch(const std::string& digest);
  void Added(const std::string& digest, uint64_t size);
  void MaybeEvict();
  // Evicts cached blobs until `bytes` more fit on the disk (BlobStore::
  // HasRoomFor). Evicts nothing when all cached content would not be enough.
  // True if `bytes` fit afterwards.
  bool MakeRoom(uint64_t bytes);
  // Whether MakeRoom(bytes) could succeed: false when all cached content
  // would not be enough. Cheap (a statfs); evicts nothing.
  bool CouldMakeRoom(uint64_t bytes);
  uint64_t cached_bytes();

 private:
  // Removes cached blobs, least recently used first, until `enough(cached,
  // freed)` holds. `why` ends the log line.
  void EvictUntil(const std::function<bool(uint64_t cached, uint64_t freed)>& enough, const std::string& why);

  Services* s_;
  uint64_t cap_;
  proxy::ProxyMetrics* metrics_;
  std::mutex mu_;
  uint64_t total_ = 0;
  std::unordered_map<std::string, int64_t> last_access_ms_;
};

}  // namespace wharf::registry
