#include "proxy/egress.h"

#include <algorithm>
#include <cctype>

#include "util/ascii.h"
#include "util/encoding.h"
#include "util/ip_net.h"

namespace wharf::proxy {
namespace {

Result<EgressProxy> ParseProxy(std::string_view text) {
  std::string s(TrimAsciiSpace(text));
  if (s.find("://") == std::string::npos) s = "http://" + s;  // "proxy:3128", as curl takes it
  // Messages never quote the whole URL: it may hold a password.
  if (AsciiLower(s.substr(0, 7)) != "http://")
    return Invalid(s.substr(0, s.find("://")) +
                   ": only http:// proxies are supported (not TLS to the proxy, not SOCKS)");
  std::string_view rest = std::string_view(s).substr(7);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos && rest.substr(slash) != "/")
    return Invalid("a proxy URL has no path");
  EgressProxy p;
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    size_t colon = userinfo.find(':');
    std::string user = UrlDecode(userinfo.substr(0, colon), false);
    std::string pass = colon == std::string_view::npos ? "" : UrlDecode(userinfo.substr(colon + 1), false);
    p.authorization = "Basic " + Base64Encode(user + ":" + pass, false);
  }
  std::string url = "http://";
  url += authority;
  auto u = Url::Parse(url);
  if (!u.ok()) return Invalid("'" + url + "': " + u.status().message());
  p.url = *u;
  return p;
}

}  // namespace

Result<Egress::Rule> Egress::ParseRule(std::string entry) {
  Rule r;
  std::string host = entry;
  std::string port;
  bool has_port = false;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string::npos) return Invalid("'" + entry + "': missing ']'");
    if (close + 1 < host.size()) {
      if (host[close + 1] != ':') return Invalid("'" + entry + "': expected :port after ']'");
      port = host.substr(close + 2);
      has_port = true;
    }
    host = host.substr(1, close - 1);
  } else if (std::count(host.begin(), host.end(), ':') == 1) {
    size_t colon = host.find(':');
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
    has_port = true;
  }
  if (has_port && !ParsePort(port, &r.port)) return Invalid("'" + entry + "': bad port");
  if (auto net = IpNet::Parse(host)) {
    r.is_ip = true;
    r.net = *net;
    return r;
  }
  if (host.find('/') != std::string::npos) return Invalid("'" + entry + "': bad network (address/bits)");
  if (host.rfind("*.", 0) == 0)
    host.erase(0, 2);
  else if (host.rfind(".", 0) == 0)
    host.erase(0, 1);
  if (host.empty()) return Invalid("'" + entry + "': no host");
  for (char c : host)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_')
      return Invalid("'" + entry + "': bad character in host");
  r.host = std::move(host);
  return r;
}

Result<Egress> Egress::Make(const std::string& http_proxy, const std::string& https_proxy,
                            const std::string& no_proxy) {
  Egress e;
  if (!TrimAsciiSpace(http_proxy).empty()) {
    auto p = ParseProxy(http_proxy);
    if (!p.ok()) return p.status();
    e.http_ = *p;
  }
  if (!TrimAsciiSpace(https_proxy).empty()) {
    auto p = ParseProxy(https_proxy);
    if (!p.ok()) return p.status();
    e.https_ = *p;
  }
  std::string list = AsciiLower(no_proxy);
  std::replace_if(list.begin(), list.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); }, ',');
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = std::min(list.find(',', start), list.size());
    std::string entry = list.substr(start, comma - start);
    start = comma + 1;
    if (entry.empty()) continue;
    if (entry == "*") {
      e.all_direct_ = true;
      continue;
    }
    auto r = ParseRule(entry);
    if (!r.ok()) return r.status();
    e.no_proxy_.push_back(std::move(*r));
  }
  return e;
}

bool Egress::Bypass(const Url& target) const {
  if (all_direct_) return true;
  const std::string host = AsciiLower(target.host);
  const std::optional<IpAddress> host_ip = ParseIpAddress(host);
  for (const Rule& r : no_proxy_) {
    if (r.port && r.port != target.port) continue;
    if (r.is_ip) {
      if (host_ip && r.net.Contains(*host_ip)) return true;
    } else if (host == r.host || (host.size() > r.host.size() &&
                                  host.compare(host.size() - r.host.size(), r.host.size(), r.host) == 0 &&
                                  host[host.size() - r.host.size() - 1] == '.')) {
      return true;
    }
  }
  return false;
}

const EgressProxy* Egress::For(const Url& target) const {
  const std::optional<EgressProxy>& p = target.tls ? https_ : http_;
  if (!p || Bypass(target)) return nullptr;
  return &*p;
}

}  // namespace wharf::proxy
