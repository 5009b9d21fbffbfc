#include "auth/policy.h"

#include "util/repo_prefix.h"

namespace wharf::auth {

bool ParseAccess(const std::string& s, Access* out) {
  if (s == "none") *out = Access::kNone;
  else if (s == "read") *out = Access::kRead;
  else if (s == "write") *out = Access::kWrite;
  else return false;
  return true;
}

Policy::Policy(bool anonymous_pull, Access default_access, std::vector<Rule> rules)
    : anonymous_pull_(anonymous_pull), default_(default_access), rules_(std::move(rules)) {
  for (Rule& r : rules_) r.prefix = RepoPrefix(std::move(r.prefix));
}

Access Policy::For(const std::string& user, const std::string& repo) const {
  if (user.empty()) return anonymous_pull_ ? Access::kRead : Access::kNone;
  const Rule* best = nullptr;
  for (const Rule& r : rules_) {
    if (r.user != user && r.user != "*") continue;
    const std::string& p = r.prefix;
    if (!InRepoPrefix(repo, p)) continue;
    // Longest prefix wins; for equal prefixes a rule naming the user beats "*".
    if (!best || p.size() > best->prefix.size() ||
        (p.size() == best->prefix.size() && r.user != "*"))
      best = &r;
  }
  return best ? best->access : default_;
}

}  // namespace wharf::auth
