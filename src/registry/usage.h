// What the hosted repositories hold (`wharf usage`): which repositories take
// the disk, and how full each storage quota is; or, asked for the cache
// (`wharf usage --cached`), what the pull-through cache holds of each
// upstream repository.
//
// Reads metadata only (one ordered scan of the blob links and manifests of
// the repositories asked about); no blob file is opened.
//
// Thread-safe (RocksDB reads); blocking.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "storage/meta_store.h"
#include "util/status.h"

namespace wharf::registry {

struct RepoUsage {
  std::string name;
  uint64_t bytes = 0;      // its distinct blobs and manifests, each once
  uint64_t blobs = 0;      // distinct blobs linked into it (layers, configs)
  uint64_t manifests = 0;  // manifests it holds
};

struct QuotaUse {
  std::string prefix;
  uint64_t used_bytes = 0;  // see registry/quota.h
  uint64_t max_bytes = 0;
};

struct UsageReport {
  std::vector<RepoUsage> repositories;  // largest first, then by name
  std::vector<QuotaUse> quotas;         // storage.quotas, in their order
  // All of the repositories' content, each digest once: shared layers make
  // the repositories' own figures add up to more.
  uint64_t bytes = 0;
  std::string ToJson() const;
};

// The hosted repositories under `prefix` ("" for all; "team" or "team/"
// holds "team/app", not "teamwork"), and every quota rule. With `cached`,
// the cache's repositories instead, named as pulled with their registry
// ("docker.io/library/alpine"; a prefix such as "docker.io/library"), and
// no quota (none governs the cache).
Result<UsageReport> RunUsage(const storage::MetaStore& meta, const std::vector<QuotaRule>& quotas,
                             const std::string& prefix, bool cached = false);

}  // namespace wharf::registry
