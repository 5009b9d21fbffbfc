// fsck: checks that the store is what the metadata says it is.
//
// Checks, in order:
//   1. every blob record has a file of the recorded size whose content hashes
//      to its digest (every byte is read);
//   2. every manifest can be read and parsed, and in hosted repositories every
//      blob and child manifest it references is present (cached repositories
//      fill in lazily, so their references are not required);
//   3. every tag points at a manifest that is recorded;
//   4. blob files that no record names are counted (gc removes them).
// With `repair`, blobs that fail check 1 are quarantined (moved to
// <root>/quarantine/, see BlobStore::Quarantine) and their records and links
// removed, so that nothing serves them and a push or a proxy fetch can store
// them again; references to them then show up as dangling, which only a
// re-push fixes, so fsck reports them and leaves them.
//
// Concurrency: holds `lock` shared (gc, which deletes, holds it exclusive);
// pushes and pulls go on meanwhile. Blocking: run it off the event loop.
#pragma once

#include <cstdint>
#include <shared_mutex>
#include <string>
#include <vector>

#include "storage/blob_store.h"
#include "storage/meta_store.h"
#include "util/status.h"

namespace wharf::registry {

struct FsckProblem {
  std::string kind;     // corrupt_blob, missing_blob_file, unreadable_manifest,
                        // dangling_reference, dangling_tag
  std::string subject;  // the digest, or "repo@digest", or "repo:tag"
  std::string detail;
  bool repaired = false;
};

struct FsckReport {
  uint64_t blobs_checked = 0;
  uint64_t bytes_checked = 0;
  uint64_t manifests_checked = 0;
  uint64_t tags_checked = 0;
  uint64_t unreferenced_files = 0;
  std::vector<FsckProblem> problems;
  bool ok() const { return problems.empty(); }
  std::string ToJson() const;
};

Result<FsckReport> RunFsck(storage::BlobStore& blobs, storage::MetaStore& meta,
                           std::shared_mutex& lock, bool repair);

// Takes corrupt blob `d` out of service: its records and links first (a crash
// in between leaves an unreferenced file for gc, never a record without a
// file), then the file into quarantine. Logs what it did.
Status QuarantineBlob(storage::BlobStore& blobs, storage::MetaStore& meta, const Digest& d,
                      const std::string& why);

}  // namespace wharf::registry
