#include "registry/client_view.h"

#include <algorithm>

#include "util/ascii.h"

namespace wharf::registry {
namespace {

bool Trusted(const std::vector<IpNet>& nets, std::string_view ip) {
  const std::optional<IpAddress> a = ParseIpAddress(ip);
  return a && std::any_of(nets.begin(), nets.end(), [&](const IpNet& n) { return n.Contains(*a); });
}

std::string_view FirstValue(std::string_view list) {
  return TrimAsciiSpace(list.substr(0, list.find(',')));
}

}  // namespace

ClientView ViewOf(const std::vector<IpNet>& trusted_proxies, const http::Request& req) {
  const std::string* host = req.Find("Host");
  ClientView v{req.ClientIp(), req.secure, host && !host->empty() ? *host : "localhost"};
  if (trusted_proxies.empty() || !Trusted(trusted_proxies, v.ip)) return v;
  const std::string chain = req.Joined("X-Forwarded-For");
  std::string_view rest = chain;
  while (!rest.empty()) {
    const size_t comma = rest.rfind(',');
    const std::string_view hop = TrimAsciiSpace(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    if (hop.find('/') != std::string_view::npos || !IpNet::Parse(hop)) break;  // not an address: the last good one stands
    v.ip = std::string(hop);
    if (!Trusted(trusted_proxies, hop)) break;
  }
  if (const std::string* proto = req.Find("X-Forwarded-Proto"))
    v.secure = AsciiLower(FirstValue(*proto)) == "https";
  if (const std::string* fwd_host = req.Find("X-Forwarded-Host"); fwd_host && !FirstValue(*fwd_host).empty())
    v.host = std::string(FirstValue(*fwd_host));
  return v;
}

}  // namespace wharf::registry
