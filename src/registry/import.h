// Import of the reference registry's (distribution's) filesystem storage, for
// `wharf import-registry DIR`: users replacing a registry:2 keep its data.
//
// DIR is the reference registry's root directory (the one holding
// docker/registry/v2) or that v2 directory itself. Every repository in it
// becomes pushed content here, in three steps per repository:
//   1. the blobs linked into it (_layers), each verified against its digest
//      and hard-linked into the store when on the same filesystem, else
//      copied (BlobStore::Adopt);
//   2. every manifest revision, verified and parsed as a push would be, image
//      manifests before the indexes that list them;
//   3. the tags (their current link), which replace tags of the same name.
// What cannot be imported is skipped and named in the report: a missing or
// corrupt blob, a manifest that does not parse or that references something
// skipped, a tag of a skipped manifest, an invalid name. Uploads in progress
// are not imported. Running it again is safe and brings tags up to date.
//
// With `cache_registry` set (a reference registry that ran as a pull-through
// cache of that registry), everything becomes cached content of the proxy
// for it instead: served like content it pulled itself, revalidated and
// evicted the same way, never hosted.
//
// Concurrency: manifests are committed holding `gc_lock` shared, as pushes
// are, and imported blobs are new to gc's grace period, so a server may run
// gc meanwhile. Blocking: reads every blob.
#pragma once

#include <cstdint>
#include <shared_mutex>
#include <string>
#include <vector>

#include "storage/blob_store.h"
#include "storage/meta_store.h"
#include "util/status.h"

namespace wharf::registry {

struct ImportReport {
  uint64_t repositories = 0;        // repositories with something imported
  uint64_t blobs = 0;               // blob links made
  uint64_t bytes = 0;               // bytes of blob files new to the store
  bool cached = false;              // imported as the proxy's cached content
  uint64_t manifests = 0;
  uint64_t tags = 0;
  std::vector<std::string> skipped;  // one line per thing not imported, with the reason
  std::string ToJson() const;
};

struct ImportOptions {
  std::string dir;
  uint64_t max_manifest_bytes = 4 << 20;
  std::string cache_registry;  // empty: import as pushed content
};

// Fails (kInvalid) only when `dir` is not such a storage directory, or on
// a metadata write error; everything else is reported as skipped.
Result<ImportReport> RunImport(storage::BlobStore& blobs, storage::MetaStore& meta,
                               std::shared_mutex& gc_lock, const ImportOptions& opt);

}  // namespace wharf::registry
