// StorageHealth: whether the storage can still take writes, for /healthz and
// /metrics (the reference registry's health.storagedriver check).
//
// A thread of its own probes the storage at start and then every
// `interval_ms`: it creates, fsyncs and removes a file in tmp/ (on the
// blobs' filesystem) and writes and reads back a metadata key (synced).
// A filesystem gone read-only, I/O errors, RocksDB refusing writes or a
// directory that vanished fail it. A full disk does not (see Run()): Wharf
// answers it with evictions and 507s, and every pull keeps working.
//
// Verdict(): unhealthy after `threshold` failed probes in a row, or while one
// probe has been stuck for `threshold` intervals (a hung NFS mount blocks the
// prober, not the verdict). One good probe makes it healthy again. Each
// change is logged once, with the error.
//
// A separate thread rather than the maintenance one: gc and evictions run
// there for minutes, and a probe queued behind them would report nothing.
//
// Thread-safety: Verdict() and RenderMetrics() from any thread. The
// constructor starts the thread; the destructor stops and joins it (waiting
// for a probe in progress).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "storage/meta_store.h"

namespace wharf::registry {

class StorageHealth {
 public:
  struct Options {
    int64_t interval_ms = 10000;
    uint32_t threshold = 3;
  };
  // `tmp_dir` and `meta` must outlive this object.
  StorageHealth(std::string tmp_dir, storage::MetaStore* meta, Options opt);
  ~StorageHealth();
  StorageHealth(const StorageHealth&) = delete;
  StorageHealth& operator=(const StorageHealth&) = delete;

  struct Result {
    bool healthy = true;
    std::string reason;  // what failed, when unhealthy
  };
  Result Verdict() const;
  // wharf_storage_healthy (1 or 0, the verdict) and
  // wharf_storage_health_probe_failures_total.
  std::string RenderMetrics() const;

 private:
  void Run();
  Status ProbeOnce() const;

  const std::string probe_path_;
  storage::MetaStore* const meta_;
  const Options opt_;
  const int64_t stuck_ms_;  // a probe this slow counts as failed (threshold intervals)
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  uint32_t failures_in_a_row_ = 0;
  uint64_t failures_total_ = 0;
  std::string last_error_;
  int64_t probe_started_ms_ = 0;  // steady clock; 0 between probes
  std::thread thread_;
};

}  // namespace wharf::registry
