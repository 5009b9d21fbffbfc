// WWW-Authenticate challenges (RFC 7235), as registries send them:
//   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"
//   Basic realm="Registry Realm"
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace wharf::proxy {

struct Challenge {
  std::string scheme;  // lowercased: "bearer", "basic"
  std::map<std::string, std::string> params;  // lowercased keys
};

// Parses the first challenge of a header value. Returns false if it has no
// scheme. Quoted values may contain commas and escaped quotes.
bool ParseChallenge(std::string_view header, Challenge* out);

}  // namespace wharf::proxy
