#include "registry/storage_health.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "util/clock.h"
#include "util/log.h"
#include "util/metrics.h"

namespace wharf::registry {

StorageHealth::StorageHealth(std::string tmp_dir, storage::MetaStore* meta, Options opt)
    : probe_path_(std::move(tmp_dir) + "/.health-probe"),
      meta_(meta),
      opt_(opt),
      stuck_ms_(opt.interval_ms * static_cast<int64_t>(opt.threshold)) {
  thread_ = std::thread([this] { Run(); });
}

StorageHealth::~StorageHealth() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Status StorageHealth::ProbeOnce() const {
  int fd = open(probe_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno(errno, "creating " + probe_path_);
  Status st;
  if (fsync(fd) != 0) st = Status::FromErrno(errno, "fsync of " + probe_path_);
  close(fd);
  if (unlink(probe_path_.c_str()) != 0 && st.ok()) st = Status::FromErrno(errno, "removing " + probe_path_);
  if (!st.ok()) return st;
  return meta_->Probe(WallMs());
}

void StorageHealth::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    probe_started_ms_ = MonotonicMs();
    lock.unlock();
    Status st = ProbeOnce();
    // A full disk is not a broken one: uploads get 507 while evictions make
    // room, pulls go on, and free space has its own metric. A 503 here would
    // have an orchestrator restart or unroute a registry that still serves.
    if (st.code() == Code::kNoSpace) st = Status();
    lock.lock();
    const int64_t took_ms = MonotonicMs() - probe_started_ms_;
    probe_started_ms_ = 0;
    if (took_ms >= stuck_ms_)
      WLOG_WARN("a storage probe took %lld ms", static_cast<long long>(took_ms));
    if (st.ok()) {
      if (failures_in_a_row_ >= opt_.threshold) WLOG_INFO("storage is healthy again");
      failures_in_a_row_ = 0;
    } else {
      ++failures_total_;
      last_error_ = st.ToString();
      if (++failures_in_a_row_ == opt_.threshold)
        WLOG_ERROR("storage is unhealthy (%u failed probes in a row; /healthz answers 503): %s",
                   failures_in_a_row_, last_error_.c_str());
    }
    cv_.wait_for(lock, std::chrono::milliseconds(opt_.interval_ms), [this] { return stop_; });
  }
}

StorageHealth::Result StorageHealth::Verdict() const {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t running_ms = probe_started_ms_ ? MonotonicMs() - probe_started_ms_ : 0;
  if (probe_started_ms_ && running_ms >= stuck_ms_)
    return {false, "a storage probe has not returned for " + std::to_string(running_ms / 1000) + " s"};
  if (failures_in_a_row_ >= opt_.threshold) return {false, last_error_};
  return {};
}

std::string StorageHealth::RenderMetrics() const {
  const bool healthy = Verdict().healthy;
  uint64_t failures;
  {
    std::lock_guard<std::mutex> lock(mu_);
    failures = failures_total_;
  }
  std::string out;
  AppendScalar(&out, "wharf_storage_healthy", "gauge",
               "1 while the storage takes writes (the /healthz verdict), 0 when not.", healthy ? 1 : 0);
  AppendScalar(&out, "wharf_storage_health_probe_failures_total", "counter",
               "Storage probes (a file in tmp/ and a metadata write) that failed.", failures);
  return out;
}

}  // namespace wharf::registry
