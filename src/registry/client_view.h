// How a request's client reached Wharf: its address, and the scheme and
// host it used. Behind a reverse proxy listed in http.trusted_proxies
// these come from the proxy's X-Forwarded-For, -Proto and -Host headers;
// from anyone else, those headers are ignored, since a client could
// otherwise dodge the failed-login limit by naming another address.
#pragma once

#include <string>
#include <vector>

#include "http/handler.h"
#include "http/request.h"
#include "util/ip_net.h"

namespace wharf::registry {

struct ClientView {
  std::string ip;    // without port or brackets
  bool secure;       // https
  std::string host;  // as in a URL's authority; "localhost" when unknown
};

// X-Forwarded-For is read from the right: the nearest address that is not
// itself a trusted proxy is the client (a left part is what the client
// wrote, and cannot be believed). X-Forwarded-Proto and -Host are taken
// from their first (the client-facing proxy's) value. Thread-safe.
ClientView ViewOf(const std::vector<IpNet>& trusted_proxies, const http::Request& req);

// The client's address as Registry::Begin found it (ViewOf's `ip`, kept in
// ex.client when a trusted proxy named it), without parsing the headers
// again.
inline std::string ClientIp(const http::Exchange& ex) {
  return ex.client.empty() ? ex.req.ClientIp() : ex.client;
}

}  // namespace wharf::registry
