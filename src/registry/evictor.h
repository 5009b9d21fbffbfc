// Evictor: removes cached content (blobs and manifests pulled through the
// proxy) when it is no longer worth its room:
//   - the size cap: over proxy.cache_max_bytes, least recently pulled first,
//     down to 90% of the cap, after each new cached blob and from the
//     maintenance thread;
//   - a full disk: a proxy fill or an upload that would not fit makes room
//     for itself the same way (MakeRoom());
//   - idle time: content not pulled for proxy.cache_max_idle is removed
//     (ExpireIdle()), as Harbor's proxy cache and the reference registry's
//     proxy.ttl do, except that the clock restarts at every pull, so
//     nothing in use expires.
//
// Only content whose origin is "cached" is a candidate: pushed content is
// never evicted (a push of the same bytes promotes them to pushed, and a
// hosted manifest can only reference blobs linked into its repository by a
// push or a mount, never cached-only blobs). An evicted manifest takes its
// tags in the proxy's repositories with it; the next pull of that tag
// fetches it again. Every removal holds the gc lock, so that it never races
// a manifest PUT.
//
// Last pulls are noted in memory (Touch(), cheap enough for every cache hit)
// and written to the metadata store by Persist(), which the maintenance
// thread calls every 30 s and at shutdown; a crash loses at most those 30 s,
// which only makes their content look older. Content never pulled since it
// was cached counts from when it was cached.
//
// Thread-safety: thread-safe. MaybeEvict(), MakeRoom(), ExpireIdle() and
// Persist() are blocking (metadata scans and writes, file deletions).
#pragma once

#include <atomic>
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
  // `max_idle_seconds`: 0 never expires anything.
  Evictor(Services* s, uint64_t cap_bytes, uint64_t max_idle_seconds, uint64_t cached_bytes,
          proxy::ProxyMetrics* metrics);
  // Notes that cached content `digest` (a blob or a manifest) was pulled now.
  void Touch(const std::string& digest);
  void Added(uint64_t size);
  void MaybeEvict();
  // Removes what was not pulled for proxy.cache_max_idle. Scans every blob
  // record, so it does the work at most every tenth of that time (between
  // 30 s and an hour) and returns at once otherwise.
  void ExpireIdle();
  // Writes the pulls noted since the last call. On failure they are kept
  // for the next call (and the failure logged).
  void Persist();
  // Evicts cached blobs until `bytes` more fit on the disk (BlobStore::
  // HasRoomFor). Evicts nothing when all cached content would not be enough.
  // True if `bytes` fit afterwards.
  bool MakeRoom(uint64_t bytes);
  // Whether MakeRoom(bytes) could succeed: false when all cached content
  // would not be enough. Cheap (a statfs); evicts nothing.
  bool CouldMakeRoom(uint64_t bytes);
  uint64_t cached_bytes();

 private:
  // Removes cached content, least recently pulled first, until
  // `enough(cached, freed, next)` holds, `next` being when the next
  // candidate was last pulled (ms since the epoch). `why` ends the log
  // line; what goes is added to the counters `count` and `bytes`.
  void EvictUntil(const std::function<bool(uint64_t cached, uint64_t freed, int64_t next)>& enough,
                  const std::string& why, std::atomic<uint64_t>& count, std::atomic<uint64_t>& bytes);

  Services* s_;
  const uint64_t cap_;
  const int64_t max_idle_ms_;
  proxy::ProxyMetrics* metrics_;
  std::mutex mu_;
  uint64_t total_ = 0;
  int64_t next_expiry_ms_ = 0;                              // ExpireIdle's own clock
  std::unordered_map<std::string, int64_t> unsaved_ms_;  // pulls that Persist() has not written
};

}  // namespace wharf::registry
