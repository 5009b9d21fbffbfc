#include "registry/retention.h"

#include <algorithm>

#include "registry/tag_glob.h"

namespace wharf::registry {

std::vector<std::string> ExpiredTags(const RetentionRuleConfig& rule, std::vector<TagAge> tags, int64_t now_ms) {
  // Newest first; equal ages by name, so that the outcome never depends on
  // the order the store listed them in.
  std::sort(tags.begin(), tags.end(), [](const TagAge& a, const TagAge& b) {
    return a.pushed_ms != b.pushed_ms ? a.pushed_ms > b.pushed_ms : a.tag > b.tag;
  });
  const int64_t young_ms = now_ms - int64_t{rule.keep_days} * 86400 * 1000;
  std::vector<std::string> out;
  for (size_t i = 0; i < tags.size(); ++i) {
    const TagAge& t = tags[i];
    const bool kept = i < rule.keep_last || (rule.keep_days > 0 && t.pushed_ms > young_ms) ||
                      std::any_of(rule.keep_tags.begin(), rule.keep_tags.end(),
                                  [&](const std::string& g) { return TagGlobMatch(g, t.tag); });
    if (!kept) out.push_back(t.tag);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace wharf::registry
