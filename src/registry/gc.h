// Garbage collection: mark and sweep over every repository.
//
// Retention first: the tags that the retention rules let go are deleted
// (registry/retention.h). Then manifests that no tag, no index and no
// subject relation keeps alive are deleted: with delete_untagged all such
// manifests, otherwise those that lost a tag to retention, with the entries
// of such an index and the referrers of such a subject.
// Mark: every manifest recorded in any repository, and every blob and child
// manifest those manifests reference.
// Sweep: every blob file that is not marked and older than the grace period
// is removed, with its metadata. A blob pushed within the grace period is
// never collected, so a push in progress (layers first, manifest last) is
// never broken.
//
// Concurrency: RunGc holds `lock` exclusively while it marks and sweeps;
// manifest writers hold it shared while they check references and commit, so
// a manifest can never come to reference a blob that is being swept.
// Blocking: run it off the event loop.
#pragma once

#include <cstdint>
#include <shared_mutex>
#include <string>

#include "config/config.h"
#include "storage/blob_store.h"
#include "storage/meta_store.h"
#include "util/status.h"

namespace wharf::registry {

struct GcOptions {
  bool dry_run = false;
  bool delete_untagged = false;
  int64_t grace_ms = 60 * 60 * 1000;
  std::vector<RetentionRuleConfig> retention;  // storage.retention
  std::vector<ImmutableTagRule> immutable_tags;  // never expired by retention
};

// The options storage.* sets (grace, retention, immutable tags), with these
// two chosen by the caller.
GcOptions GcOptionsOf(const StorageConfig& storage, bool dry_run, bool delete_untagged);

struct GcReport {
  uint64_t manifests = 0;          // manifests kept
  uint64_t marked_blobs = 0;       // distinct blobs referenced
  uint64_t tags_expired = 0;       // tags removed by retention rules (or that would be)
  uint64_t untagged_deleted = 0;   // manifests removed (delete_untagged, retention)
  uint64_t blobs_deleted = 0;      // blob files removed (or that would be)
  uint64_t bytes_freed = 0;
  uint64_t blobs_in_grace = 0;     // unreferenced but too young to collect
  bool dry_run = false;
  std::string ToJson() const;
};

Result<GcReport> RunGc(storage::BlobStore& blobs, storage::MetaStore& meta, std::shared_mutex& lock,
                       const GcOptions& opt);

}  // namespace wharf::registry
