#include "registry/immutable_tags.h"

#include <algorithm>

#include "registry/tag_glob.h"
#include "registry/hosted_rule.h"

namespace wharf::registry {

bool TagImmutable(const std::vector<ImmutableTagRule>& rules, std::string_view repo, std::string_view tag) {
  const ImmutableTagRule* rule = HostedRuleFor(rules, repo);
  return rule && std::any_of(rule->tags.begin(), rule->tags.end(),
                             [&](const std::string& g) { return TagGlobMatch(g, tag); });
}

}  // namespace wharf::registry
