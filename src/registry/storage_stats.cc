#include "registry/storage_stats.h"

#include <dirent.h>
#include <sys/statvfs.h>

#include <cstdio>

#include "registry/quota.h"
#include "util/clock.h"
#include "util/metrics.h"

namespace wharf::registry {

uint64_t StorageStats::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return s_.cached_bytes;
}

Status StorageStats::Refresh(const storage::MetaStore& meta, storage::UploadManager& uploads) {
  Snapshot s;
  WHARF_RETURN_IF_ERROR(meta.ForEachBlob([&](const std::string&, const storage::BlobRecord& r) {
    if (r.origin == storage::Origin::kCached) {
      s.cached_bytes += r.size;
      ++s.cached_blobs;
    } else {
      s.hosted_bytes += r.size;
      ++s.hosted_blobs;
    }
  }));
  s.uploads = uploads.InProgress();
  if (DIR* d = ::opendir((root_ + "/quarantine").c_str())) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++s.quarantined;
    ::closedir(d);
  }
  struct statvfs fs;
  if (::statvfs(root_.c_str(), &fs) == 0) {
    s.fs_free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
    s.fs_total_bytes = static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize;
  }
  for (const QuotaRule& q : quotas_) {
    auto used = QuotaUsage(quotas_, q, meta);
    if (!used.ok()) return used.status();
    s.quota_used.push_back(*used);
  }
  s.taken_ms = WallMs();
  std::lock_guard<std::mutex> lock(mu_);
  s_ = std::move(s);
  return Status();
}

void StorageStats::RecordGc(const Result<GcReport>& report) {
  if (report.ok() && report->dry_run) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (!report.ok()) {
    ++gc_.failed;
    return;
  }
  ++gc_.ok;
  gc_.blobs += report->blobs_deleted;
  gc_.bytes += report->bytes_freed;
  gc_.manifests += report->untagged_deleted;
  gc_.tags += report->tags_expired;
  gc_.last_ok_ms = WallMs();
}

std::string StorageStats::Render() const {
  Snapshot s;
  GcCounts gc;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = s_;
    gc = gc_;
  }
  std::string out;
  char line[160];
  // A metric with two series, `key`="a" and `key`="b".
  auto pair = [&](const char* name, const char* type, const char* help, const char* key, const char* a,
                  uint64_t va, const char* b, uint64_t vb) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ").append(name);
    out.append(" ").append(type).append("\n");
    snprintf(line, sizeof line, "%s{%s=\"%s\"} %llu\n%s{%s=\"%s\"} %llu\n", name, key, a,
             static_cast<unsigned long long>(va), name, key, b, static_cast<unsigned long long>(vb));
    out.append(line);
  };
  pair("wharf_gc_runs_total", "counter", "Garbage collections run by this process (dry runs not counted).",
       "result", "ok", gc.ok, "failed", gc.failed);
  AppendScalar(&out, "wharf_gc_deleted_blobs_total", "counter", "Blob files garbage collection removed.", gc.blobs);
  AppendScalar(&out, "wharf_gc_freed_bytes_total", "counter", "Bytes garbage collection freed.", gc.bytes);
  AppendScalar(&out, "wharf_gc_deleted_manifests_total", "counter",
               "Untagged manifests garbage collection removed.", gc.manifests);
  AppendScalar(&out, "wharf_gc_expired_tags_total", "counter",
               "Tags that retention rules (storage.retention) removed.", gc.tags);
  AppendScalar(&out, "wharf_gc_last_success_timestamp_seconds", "gauge",
               "Unix time of the last garbage collection that succeeded (0: none yet).",
               static_cast<uint64_t>(gc.last_ok_ms / 1000));
  if (!s.taken_ms) return out;
  pair("wharf_storage_bytes", "gauge", "Bytes of blobs stored (pushed: hosted; pulled through the proxy: cached).",
       "origin", "hosted", s.hosted_bytes, "cached", s.cached_bytes);
  pair("wharf_storage_blobs", "gauge", "Blobs stored, manifests included.", "origin", "hosted", s.hosted_blobs,
       "cached", s.cached_blobs);
  AppendScalar(&out, "wharf_storage_uploads_in_progress", "gauge", "Blob uploads open now.", s.uploads);
  AppendScalar(&out, "wharf_storage_quarantined_files", "gauge",
               "Damaged blob files moved to <root>/quarantine (fsck or a size check on serve).",
               s.quarantined);
  AppendScalar(&out, "wharf_storage_filesystem_free_bytes", "gauge",
               "Free bytes on the filesystem of storage.root (for unprivileged users).", s.fs_free_bytes);
  AppendScalar(&out, "wharf_storage_filesystem_size_bytes", "gauge",
               "Size of the filesystem of storage.root.", s.fs_total_bytes);
  if (!quotas_.empty()) {
    std::string used, limit;
    for (size_t i = 0; i < quotas_.size() && i < s.quota_used.size(); ++i) {
      const std::string label = "{prefix=" + LabelValue(quotas_[i].prefix) + "} ";
      used += "wharf_storage_quota_used_bytes" + label + std::to_string(s.quota_used[i]) + "\n";
      limit += "wharf_storage_quota_limit_bytes" + label + std::to_string(quotas_[i].max_bytes) + "\n";
    }
    out += "# HELP wharf_storage_quota_used_bytes What the repositories a storage.quotas rule governs hold.\n"
           "# TYPE wharf_storage_quota_used_bytes gauge\n" + used +
           "# HELP wharf_storage_quota_limit_bytes The rule's max_bytes.\n"
           "# TYPE wharf_storage_quota_limit_bytes gauge\n" + limit;
  }
  AppendScalar(&out, "wharf_storage_stats_age_seconds", "gauge",
               "Seconds since the storage figures above were taken.",
               static_cast<uint64_t>((WallMs() - s.taken_ms) / 1000));
  return out;
}

}  // namespace wharf::registry
