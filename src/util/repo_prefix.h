// Repository name prefixes, as access rules and retention rules name them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace wharf {

// True if `repo` is `prefix` or lies under it ("team" holds "team/app", not
// "teamwork"); an empty prefix holds everything. `prefix` has no trailing '/'.
inline bool InRepoPrefix(std::string_view repo, std::string_view prefix) {
  return prefix.empty() || repo == prefix ||
         (repo.size() > prefix.size() && repo.starts_with(prefix) && repo[prefix.size()] == '/');
}

// `prefix` as a configuration or a command line gives it, in the form
// InRepoPrefix takes: "team/" names "team".
inline std::string RepoPrefix(std::string prefix) {
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  return prefix;
}

// The rule of `rules` (each with a `prefix` member) whose prefix holds
// `repo`, the longest such prefix winning; nullptr if none does.
template <typename Rule>
const Rule* LongestPrefixRule(const std::vector<Rule>& rules, std::string_view repo) {
  const Rule* best = nullptr;
  for (const Rule& r : rules)
    if (InRepoPrefix(repo, r.prefix) && (!best || r.prefix.size() > best->prefix.size())) best = &r;
  return best;
}

}  // namespace wharf
