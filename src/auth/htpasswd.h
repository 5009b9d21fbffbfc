// Htpasswd: a bcrypt htpasswd file (what `htpasswd -B` writes and the
// reference registry reads).
//
// Only bcrypt hashes ($2y$, $2b$, $2a$) are accepted. Users with another
// format ($apr1$, {SHA}, crypt, plain) are reported by Load() and can never
// log in. Verify() runs bcrypt, which takes milliseconds: never call it on
// an event loop.
//
// Thread-safety: an Htpasswd is immutable after Load(); Verify() is safe
// from any thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "util/status.h"

namespace wharf::auth {

class Htpasswd {
 public:
  // Parses the file. `rejected` (optional) gets one line per unusable user.
  static Result<std::shared_ptr<const Htpasswd>> Load(const std::string& path,
                                                      std::vector<std::string>* rejected);
  // True if `user` exists and `password` matches its hash.
  bool Verify(const std::string& user, const std::string& password) const;
  // The user's bcrypt hash, or nullptr for an unknown user.
  const std::string* Hash(const std::string& user) const;
  size_t size() const { return users_.size(); }

 private:
  std::map<std::string, std::string> users_;  // user -> bcrypt hash
};

}  // namespace wharf::auth
