#include "registry/tag_glob.h"

namespace wharf::registry {

bool TagGlobMatch(std::string_view pattern, std::string_view tag) {
  // Greedy matching with one backtrack point: the last '*' seen.
  size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < tag.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == tag[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace wharf::registry
