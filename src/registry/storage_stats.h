// StorageStats: what the store holds, and what garbage collection removed
// from it, for /metrics.
//
// Refresh() scans the blob records (one RocksDB iteration, no file access)
// and asks the filesystem for free space; the maintenance thread calls it at
// startup and every 30 seconds, so a scrape never pays for a scan. Render()
// prints the last snapshot in the Prometheus text format, with its age, and
// the gc counters. With storage.quotas, each rule's usage is taken too (one
// scan of the metadata of the repositories it governs).
//
// Thread-safety: thread-safe. Refresh() is blocking; Render() is not.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "registry/gc.h"
#include "storage/blob_store.h"
#include "storage/meta_store.h"
#include "storage/uploads.h"
#include "util/status.h"

namespace wharf::registry {

class StorageStats {
 public:
  StorageStats(std::string root, std::vector<QuotaRule> quotas)
      : root_(std::move(root)), quotas_(std::move(quotas)) {}
  Status Refresh(const storage::MetaStore& meta, storage::UploadManager& uploads);
  std::string Render() const;
  // Bytes of cached (proxied) blobs at the last Refresh().
  uint64_t cached_bytes() const;
  // Counts a garbage collection this process ran (scheduled, or asked for
  // on the admin socket); dry runs are not counted.
  void RecordGc(const Result<GcReport>& report);

 private:
  struct Snapshot {
    uint64_t hosted_bytes = 0, hosted_blobs = 0;
    uint64_t cached_bytes = 0, cached_blobs = 0;
    uint64_t uploads = 0;
    uint64_t quarantined = 0;
    uint64_t fs_free_bytes = 0, fs_total_bytes = 0;
    std::vector<uint64_t> quota_used;  // by quotas_' order
    int64_t taken_ms = 0;  // 0: never
  };
  struct GcCounts {
    uint64_t ok = 0, failed = 0;
    uint64_t blobs = 0, bytes = 0, manifests = 0, tags = 0;
    int64_t last_ok_ms = 0;  // 0: never
  };
  const std::string root_;
  const std::vector<QuotaRule> quotas_;
  mutable std::mutex mu_;
  Snapshot s_;
  GcCounts gc_;
};

}  // namespace wharf::registry
