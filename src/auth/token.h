// Bearer tokens issued by Wharf's own token service (/auth/token).
//
// A token is base64url(payload JSON) "." base64url(HMAC-SHA256(key, payload)).
// The payload names the user, the expiry and the granted access, in the
// shape of the Docker token spec:
//   {"sub":"alice","exp":1700000000,"access":[{"type":"repository",
//     "name":"team/app","actions":["pull","push"]}]}
// Verifying costs one HMAC and a JSON parse, so a large pull never pays
// for bcrypt again. A refresh token has the same form, with "typ":"refresh"
// and "bind" (see Claims); the two kinds are never taken for each other.
// The key comes from the token key file (registry/token_key.h), so tokens
// outlive a restart.
//
// Thread-safety: a TokenSigner is immutable after construction.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace wharf::auth {

struct Grant {
  std::string type;  // "repository" or "registry"
  std::string name;  // repository name or "catalog"
  std::set<std::string> actions;
};

struct Claims {
  std::string subject;
  int64_t expires = 0;  // unix seconds
  std::vector<Grant> access;
  // A refresh token: grants nothing by itself, only new access tokens, and
  // only while `binding` still matches the user's password entry (so a
  // changed password or a removed user ends it).
  bool refresh = false;
  std::string binding;
  // True if the claims allow `action` on repository `repo`.
  bool Allows(const std::string& type, const std::string& name, const std::string& action) const;
};

class TokenSigner {
 public:
  explicit TokenSigner(std::string key);  // the HMAC key: at least 32 bytes
  std::string Sign(const Claims& c) const;
  // Checks the signature and the expiry against `now`.
  Result<Claims> Verify(const std::string& token, int64_t now) const;
  // HMAC-SHA256 of `data` under the key: a digest that only holders of the
  // key can make or check (e.g. a refresh token's binding).
  std::string Mac(std::string_view data) const;

 private:
  std::string key_;
};

// Parses a Docker token-spec scope: "repository:team/app:pull,push".
bool ParseScope(const std::string& scope, Grant* out);


}  // namespace wharf::auth
