// StorageStats: what the store holds, for /metrics.
//
// Refresh() scans the blob records (one RocksDB iteration, no file access)
// and asks the filesystem for free space; the maintenance thread calls it at
// startup and every 30 seconds, so a scrape never pays for a scan. Render()
// prints the last snapshot in the Prometheus text format, with its age.
//
// Thread-safety: thread-safe. Refresh() is blocking; Render() is not.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "storage/blob_store.h"
#include "storage/meta_store.h"
#include "storage/uploads.h"
#include "util/status.h"

namespace wharf::registry {

class StorageStats {
 public:
  explicit StorageStats(std::string root) : root_(std::move(root)) {}
  Status Refresh(const storage::MetaStore& meta, storage::UploadManager& uploads);
  std::string Render() const;
  // Bytes of cached (proxied) blobs at the last Refresh().
  uint64_t cached_bytes() const;

 private:
  struct Snapshot {
    uint64_t hosted_bytes = 0, hosted_blobs = 0;
    uint64_t cached_bytes = 0, cached_blobs = 0;
    uint64_t uploads = 0;
    uint64_t quarantined = 0;
    uint64_t fs_free_bytes = 0, fs_total_bytes = 0;
    int64_t taken_ms = 0;  // 0: never
  };
  const std::string root_;
  mutable std::mutex mu_;
  Snapshot s_;
};

}  // namespace wharf::registry
