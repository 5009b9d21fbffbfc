// Services: what the registry handlers share. Owned by Registry; handlers
// get a reference. Every member is thread-safe.
#pragma once

#include <memory>
#include <shared_mutex>

#include "auth/authenticator.h"
#include "config/config.h"
#include "notify/notifier.h"
#include "registry/manifest_cache.h"
#include "registry/proxy_service.h"
#include "registry/quota.h"
#include "registry/storage_health.h"
#include "registry/storage_stats.h"
#include "storage/blob_store.h"
#include "storage/meta_store.h"
#include "storage/uploads.h"
#include "util/ip_net.h"

namespace wharf::registry {

struct Services {
  Config cfg;
  std::vector<IpNet> trusted_proxies;  // cfg.http.trusted_proxies, parsed (see client_view.h)
  std::unique_ptr<storage::BlobStore> blobs;
  std::unique_ptr<storage::MetaStore> meta;
  std::unique_ptr<QuotaGate> quotas;  // decides additions under cfg.storage.quotas
  // Before its users (uploads, proxy fills), so that it outlives them.
  std::unique_ptr<storage::HashPool> hashing;
  std::unique_ptr<storage::UploadManager> uploads;
  std::unique_ptr<ManifestCache> manifests;
  std::unique_ptr<StorageStats> stats;
  std::unique_ptr<StorageHealth> health;  // null when health.storage.enabled is false
  std::unique_ptr<auth::Authenticator> auth;  // null when auth.mode is none
  std::unique_ptr<notify::Notifier> notifier;  // null without notifications.endpoints
  // Last: its fetch threads use the stores above and stop first.
  std::unique_ptr<ProxyService> proxy;        // null when proxy.enabled is false
  // Held shared by writers that add references (manifest PUT, mount) and
  // exclusively by garbage collection; see registry/gc.h.
  std::shared_mutex gc_lock;
};

}  // namespace wharf::registry
