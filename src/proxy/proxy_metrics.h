// Counters of the pull-through cache, exported on /metrics.
// Thread-safety: relaxed atomics; any thread may add, Render may run anytime.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace wharf::proxy {

struct ProxyMetrics {
  std::atomic<uint64_t> hits{0};               // answered from the cache
  std::atomic<uint64_t> misses{0};             // upstream fetches started
  std::atomic<uint64_t> coalesced{0};          // requests that joined a fetch in flight
  std::atomic<uint64_t> upstream_bytes{0};     // body bytes received from upstreams
  std::atomic<uint64_t> revalidations{0};      // tag HEADs after the TTL
  std::atomic<uint64_t> stale_serves{0};       // stale manifests served (upstream down)
  std::atomic<uint64_t> evictions{0};          // blobs evicted for room (cap, full disk)
  std::atomic<uint64_t> evicted_bytes{0};
  std::atomic<uint64_t> expired{0};            // blobs removed after proxy.cache_max_idle
  std::atomic<uint64_t> expired_bytes{0};

  static void Add(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
  // Prometheus text for the counters above.
  std::string Render() const;
};

}  // namespace wharf::proxy
