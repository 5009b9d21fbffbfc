#include "registry/storage_stats.h"

#include <dirent.h>
#include <sys/statvfs.h>

#include <cstdio>

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
  s.taken_ms = WallMs();
  std::lock_guard<std::mutex> lock(mu_);
  s_ = s;
  return Status();
}

std::string StorageStats::Render() const {
  Snapshot s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = s_;
  }
  if (!s.taken_ms) return "";
  std::string out;
  char line[160];
  auto by_origin = [&](const char* name, const char* help, uint64_t hosted, uint64_t cached) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ").append(name).append(" gauge\n");
    snprintf(line, sizeof line, "%s{origin=\"hosted\"} %llu\n%s{origin=\"cached\"} %llu\n", name,
             static_cast<unsigned long long>(hosted), name, static_cast<unsigned long long>(cached));
    out.append(line);
  };
  by_origin("wharf_storage_bytes", "Bytes of blobs stored (pushed: hosted; pulled through the proxy: cached).",
            s.hosted_bytes, s.cached_bytes);
  by_origin("wharf_storage_blobs", "Blobs stored, manifests included.", s.hosted_blobs, s.cached_blobs);
  AppendScalar(&out, "wharf_storage_uploads_in_progress", "gauge", "Blob uploads open now.", s.uploads);
  AppendScalar(&out, "wharf_storage_quarantined_files", "gauge",
               "Damaged blob files moved to <root>/quarantine (fsck or a size check on serve).",
               s.quarantined);
  AppendScalar(&out, "wharf_storage_filesystem_free_bytes", "gauge",
               "Free bytes on the filesystem of storage.root (for unprivileged users).", s.fs_free_bytes);
  AppendScalar(&out, "wharf_storage_filesystem_size_bytes", "gauge",
               "Size of the filesystem of storage.root.", s.fs_total_bytes);
  AppendScalar(&out, "wharf_storage_stats_age_seconds", "gauge",
               "Seconds since the storage figures above were taken.",
               static_cast<uint64_t>((WallMs() - s.taken_ms) / 1000));
  return out;
}

}  // namespace wharf::registry
