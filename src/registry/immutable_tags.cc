#include "registry/immutable_tags.h"

#include <algorithm>

#include "registry/tag_glob.h"
#include "util/repo_prefix.h"

namespace wharf::registry {

bool TagImmutable(const std::vector<ImmutableTagRule>& rules, std::string_view repo, std::string_view tag) {
  if (rules.empty() || repo.starts_with('~')) return false;  // none set; the proxy's cache
  const ImmutableTagRule* rule = LongestPrefixRule(rules, repo);
  return rule && std::any_of(rule->tags.begin(), rule->tags.end(),
                             [&](const std::string& g) { return TagGlobMatch(g, tag); });
}

}  // namespace wharf::registry
