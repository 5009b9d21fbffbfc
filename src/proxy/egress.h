// Egress: the forward proxy (a corporate HTTP proxy, say) that connections
// to upstream registries go through, configured the way HTTP_PROXY,
// HTTPS_PROXY and NO_PROXY configure curl and Go programs such as the
// reference registry.
//
// An https:// upstream is reached through a CONNECT tunnel, so TLS runs end
// to end with the upstream and its certificate is verified as on a direct
// connection. A plain http:// upstream is asked in absolute form
// ("GET http://host/path") on a connection to the proxy. Token realms and
// redirect targets (a CDN) go the same way, each by its own URL.
//
// NO_PROXY entries, separated by commas or spaces, case-insensitive:
//   *                      every host goes direct
//   example.com            that host and its subdomains (".example.com" and
//                          "*.example.com" mean the same)
//   10.0.0.1, ::1          that address, when the URL names it
//   10.0.0.0/8, fd00::/8   addresses in that network, when the URL names one
//   host:5000, [::1]:5000  any of the above, on that port only
// Names are not resolved to match address entries, and nothing is exempt
// implicitly: list localhost and 127.0.0.1 for local upstreams.
//
// Thread-safety: immutable after Make(); safe to share between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proxy/url.h"
#include "util/ip_net.h"
#include "util/status.h"

namespace wharf::proxy {

struct EgressProxy {
  Url url;                    // http://host:port of the proxy
  std::string authorization;  // "Basic ..." from the URL's user:password, or empty
};

class Egress {
 public:
  // Parses the proxy URLs ("http://[user:password@]host[:port]", the
  // scheme may be left out; user and password percent-encoded) and the
  // NO_PROXY list. Empty strings mean no proxy for that scheme. kInvalid,
  // naming what is wrong, for anything else (an https:// or socks proxy, a
  // path, a bad port or network).
  static Result<Egress> Make(const std::string& http_proxy, const std::string& https_proxy,
                             const std::string& no_proxy);

  // The proxy for a connection to `target`, or nullptr to connect directly.
  // The pointer lives as long as this object.
  const EgressProxy* For(const Url& target) const;

 private:
  struct Rule {
    std::string host;  // lower case, without a leading "." or "*."; empty for networks
    bool is_ip = false;
    IpNet net;  // an address or network
    uint16_t port = 0;  // 0: any
  };
  static Result<Rule> ParseRule(std::string entry);
  bool Bypass(const Url& target) const;

  std::optional<EgressProxy> http_, https_;
  std::vector<Rule> no_proxy_;
  bool all_direct_ = false;  // NO_PROXY=*
};

}  // namespace wharf::proxy
