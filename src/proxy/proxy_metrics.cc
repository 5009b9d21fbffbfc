#include "proxy/proxy_metrics.h"

#include "util/metrics.h"

namespace wharf::proxy {

std::string ProxyMetrics::Render() const {
  struct Row {
    const char* name;
    const char* help;
    const std::atomic<uint64_t>* v;
  };
  const Row rows[] = {
      {"wharf_proxy_hits_total", "Proxied requests answered from the cache.", &hits},
      {"wharf_proxy_misses_total", "Upstream fetches started for cache misses.", &misses},
      {"wharf_proxy_coalesced_total", "Requests that joined an upstream fetch in flight.", &coalesced},
      {"wharf_proxy_upstream_bytes_total", "Body bytes received from upstream registries.", &upstream_bytes},
      {"wharf_proxy_revalidations_total", "Tag revalidations (HEAD) after the TTL.", &revalidations},
      {"wharf_proxy_stale_serves_total", "Stale manifests served while upstreams failed.", &stale_serves},
      {"wharf_proxy_evictions_total", "Cached blobs evicted under the size cap or for a full disk.", &evictions},
      {"wharf_proxy_evicted_bytes_total", "Bytes of cached blobs evicted.", &evicted_bytes},
      {"wharf_proxy_expired_total", "Cached blobs removed after proxy.cache_max_idle without a pull.", &expired},
      {"wharf_proxy_expired_bytes_total", "Bytes of cached blobs removed after proxy.cache_max_idle.",
       &expired_bytes},
  };
  std::string out;
  for (const Row& r : rows) AppendScalar(&out, r.name, "counter", r.help, r.v->load(std::memory_order_relaxed));
  return out;
}

}  // namespace wharf::proxy
