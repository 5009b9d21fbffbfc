// Storage quotas for pushed content (storage.quotas): a team's repositories
// cannot fill the disk that every other team pushes to.
//
// A repository is governed by the rule with the longest prefix that holds it
// (HostedRuleFor); a rule counts what the repositories it governs hold
// together: every distinct blob linked into them and every manifest, each
// digest once however many of them hold it. Cached (proxied) repositories are
// never governed: proxy.cache_max_bytes bounds them.
//
// The check runs when content is added to a repository (an upload
// completed, a blob mounted, a manifest pushed): content already counted in
// the rule costs nothing, anything else must fit under max_bytes. An upload
// is also refused at its start when the rule is full already. Additions
// that run at the same moment are checked apart, so they can overrun the
// limit by what they add together; the next addition sees it.
//
// Each check scans the metadata of the governed repositories (in key order,
// no blob files are read). Thread-safe, blocking: call off the event loop.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "storage/meta_store.h"
#include "util/status.h"

namespace wharf::registry {

// What the repositories that `rule` (an element of `rules`) governs hold,
// in bytes; `*holds` (may be null) tells whether `digest` is among it.
Result<uint64_t> QuotaUsage(const std::vector<QuotaRule>& rules, const QuotaRule& rule,
                            const storage::MetaStore& meta, std::string_view digest = {},
                            bool* holds = nullptr);

// OK when `digest` (`size` bytes) may be added to `repo`; kDenied with the
// client's explanation when it would take its rule over max_bytes; a
// metadata error as it came.
Status CheckQuota(const std::vector<QuotaRule>& rules, const storage::MetaStore& meta,
                  std::string_view repo, std::string_view digest, uint64_t size);

// For an upload about to start, its size unknown: kDenied when the rule
// governing `repo` has no byte left, so that the client hears it before it
// sends the blob rather than after.
Status CheckQuotaRoom(const std::vector<QuotaRule>& rules, const storage::MetaStore& meta,
                      std::string_view repo);

}  // namespace wharf::registry
