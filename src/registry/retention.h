// Tag retention for hosted repositories (storage.retention): which tags a
// rule lets go, so that garbage collection can then remove what only they
// kept. Cached (proxied) repositories are never governed: the size cap and
// proxy.cache_max_idle look after them.
//
// A repository is governed by the rule with the longest prefix that holds it
// (HostedRuleFor). A tag of a governed repository stays if it is one of the
// rule's keep_last newest, or was pushed within keep_days, or matches one of
// keep_tags; every other tag goes. A tag's age is its manifest's last push
// (a push of a tag, or of the same manifest again, renews it).
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace wharf::registry {

struct TagAge {
  std::string tag;
  int64_t pushed_ms = 0;
};

// The tags of one repository that `rule` lets go at `now_ms`, in name order.
std::vector<std::string> ExpiredTags(const RetentionRuleConfig& rule, std::vector<TagAge> tags, int64_t now_ms);

}  // namespace wharf::registry
