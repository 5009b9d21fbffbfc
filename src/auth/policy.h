// Policy: who may read or write which repositories.
//
// Anonymous clients get read access everywhere when anonymous_pull is on,
// nothing otherwise. An authenticated user gets the access of the rule with
// the longest matching prefix among the rules naming that user (or "*"),
// and default_access when no rule matches. A prefix matches a repository
// equal to it or below it ("team" matches "team" and "team/app", not
// "teammate"); the empty prefix matches everything.
//
// Thread-safety: immutable after construction.
#pragma once

#include <string>
#include <vector>

#include "util/status.h"

namespace wharf::auth {

enum class Access { kNone = 0, kRead = 1, kWrite = 2 };

struct Rule {
  std::string user;    // a user name or "*"
  std::string prefix;  // repository prefix
  Access access = Access::kNone;
};

// Parses "none", "read" or "write".
bool ParseAccess(const std::string& s, Access* out);

class Policy {
 public:
  Policy(bool anonymous_pull, Access default_access, std::vector<Rule> rules);
  // `user` empty means anonymous.
  Access For(const std::string& user, const std::string& repo) const;
  bool anonymous_pull() const { return anonymous_pull_; }

 private:
  bool anonymous_pull_;
  Access default_;
  std::vector<Rule> rules_;
};

}  // namespace wharf::auth
