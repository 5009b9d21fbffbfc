// Repository name prefixes, as access rules and retention rules name them.
#pragma once

#include <string_view>

namespace wharf {

// True if `repo` is `prefix` or lies under it ("team" holds "team/app", not
// "teamwork"); an empty prefix holds everything. `prefix` has no trailing '/'.
inline bool InRepoPrefix(std::string_view repo, std::string_view prefix) {
  return prefix.empty() || repo == prefix ||
         (repo.size() > prefix.size() && repo.starts_with(prefix) && repo[prefix.size()] == '/');
}

}  // namespace wharf
