// Registry: the http::Handler that answers the OCI distribution API and the
// operational endpoints (/healthz, /livez, /metrics).
//
// Open() prepares storage (directories, RocksDB, resumable uploads) and
// starts a maintenance thread that expires abandoned uploads.
//
// Thread-safety: one instance serves every worker; it keeps no per-request
// state, and what it shares (Services, metrics) is thread-safe.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "config/config.h"
#include "http/handler.h"
#include "http/router.h"
#include "registry/gc.h"
#include "registry/services.h"
#include "util/metrics.h"

namespace wharf::registry {

class Registry final : public http::Handler {
 public:
  // `metrics` must outlive the registry. Errors name the storage problem.
  static Result<std::unique_ptr<Registry>> Open(const Config& cfg, Metrics* metrics);
  ~Registry() override;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  BodyMode Begin(http::Exchange& ex) override;
  void Finish(http::Exchange& ex) override;
  // Tells the webhooks (notifications.endpoints) about a push, pull, mount
  // or delete that succeeded.
  void Done(const http::Exchange& ex) override;

  Services& services() { return svc_; }
  // SIGHUP: re-reads what can change at run time (the htpasswd file).
  void Reload();

  // The peer name the server gives connections on the admin socket.
  static constexpr char kAdminPeer[] = "unix";
  // Where the admin socket lives for a storage root.
  static std::string AdminSocketPath(const Config& cfg) { return cfg.storage.root + "/admin.sock"; }

 private:
  Registry(const Config& cfg, Metrics* metrics);
  // The maintenance thread: every 30 s expires abandoned uploads, evicts
  // cached blobs over the cap and refreshes the storage figures; every
  // storage.gc_interval_seconds (if set) collects garbage.
  void Maintain();
  void Housekeep();
  void ScheduledGc();
  // Runs gc (blocking) with the configured grace period, retention and
  // immutable tags, and counts it in the metrics.
  Result<GcReport> Collect(bool dry_run, bool delete_untagged);
  void CollectGarbage(http::Exchange& ex);
  void CheckStore(http::Exchange& ex);
  void Import(http::Exchange& ex);
  void ReportUsage(http::Exchange& ex);

  Services svc_;
  Metrics* metrics_;
  http::Router router_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread maintenance_;
};

}  // namespace wharf::registry
