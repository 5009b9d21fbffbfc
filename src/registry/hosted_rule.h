// Which rule of a storage.* rule list (retention, immutable_tags, quotas)
// governs a repository.
#pragma once

#include <string_view>
#include <vector>

#include "storage/meta_store.h"
#include "util/repo_prefix.h"

namespace wharf::registry {

// The rule of `rules` (each with a `prefix`) with the longest prefix that
// holds `repo`; nullptr if none does, and for the proxy's cache, which no
// storage rule governs (the size cap and proxy.cache_max_idle do). Pure;
// thread-safe.
template <typename Rule>
const Rule* HostedRuleFor(const std::vector<Rule>& rules, std::string_view repo) {
  return storage::IsCachedRepo(repo) ? nullptr : LongestPrefixRule(rules, repo);
}

}  // namespace wharf::registry
