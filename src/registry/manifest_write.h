// The metadata record of a manifest, as a push, a proxy fill and an import
// commit it.
#pragma once

#include <string>

#include "registry/manifest.h"
#include "storage/meta_store.h"

namespace wharf::registry {

// The write that records manifest `digest` (`size` bytes, parsed as `m`) in
// `repo`, created now, untagged; set `tag` to tag it in the same batch.
inline storage::ManifestWrite ManifestWriteOf(const std::string& repo, const std::string& digest,
                                              const ParsedManifest& m, uint64_t size,
                                              storage::Origin origin) {
  storage::ManifestWrite w;
  w.repo = repo;
  w.digest = digest;
  w.record = storage::ManifestRecord{m.media_type, size, m.subject, m.artifact_type, storage::NowMs()};
  if (!m.subject.empty()) w.referrer_descriptor = ReferrerDescriptor(m, digest, size);
  w.origin = origin;
  return w;
}

}  // namespace wharf::registry
