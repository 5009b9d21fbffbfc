// URLs of upstream registries and of the redirects they send.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace wharf::proxy {

// A TCP port number, 1-65535, in decimal and nothing else; false otherwise
// (also for an empty string).
bool ParsePort(std::string_view s, uint16_t* out);

struct Url {
  bool tls = true;
  std::string host;  // without brackets for IPv6
  uint16_t port = 443;
  std::string path = "/";  // path and query
  // When set, the connection goes to this Unix socket (plain HTTP; `host`
  // is then only the Host header), e.g. a server's admin socket.
  std::string unix_socket;

  // Parses "http(s)://host[:port][/path]".
  static Result<Url> Parse(std::string_view s);
  // Resolves a Location header against this URL (absolute, or "/path").
  Result<Url> Resolve(std::string_view location) const;
  // "host:port" for pools, "Host:" headers and logs.
  std::string HostPort() const;
  std::string Origin() const;  // "https://host:port"
};

}  // namespace wharf::proxy
