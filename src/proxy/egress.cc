#include "proxy/egress.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include "util/ascii.h"
#include "util/encoding.h"

namespace wharf::proxy {
namespace {

// An IPv4 or IPv6 address as 16 bytes (IPv4 mapped into ::ffff:0:0/96), so
// that one comparison serves both; *bits gets 32 or 128.
bool ParseIp(const std::string& s, std::array<uint8_t, 16>* out, int* bits) {
  in_addr a4;
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    out->fill(0);
    (*out)[10] = (*out)[11] = 0xff;
    std::memcpy(out->data() + 12, &a4, 4);
    *bits = 32;
    return true;
  }
  in6_addr a6;
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
    std::memcpy(out->data(), &a6, 16);
    *bits = 128;
    return true;
  }
  return false;
}

bool SamePrefix(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int bits) {
  int full = bits / 8;
  if (std::memcmp(a.data(), b.data(), static_cast<size_t>(full)) != 0) return false;
  if (bits % 8 == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - bits % 8));
  return (a[static_cast<size_t>(full)] & mask) == (b[static_cast<size_t>(full)] & mask);
}

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
  if (size_t slash = host.find('/'); slash != std::string::npos) {
    std::string bits = host.substr(slash + 1);
    int n = -1, family_bits = 0;
    auto [p, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), n);
    if (!ParseIp(host.substr(0, slash), &r.net, &family_bits) || bits.empty() || ec != std::errc() ||
        p != bits.data() + bits.size() || n < 0 || n > family_bits)
      return Invalid("'" + entry + "': bad network (address/bits)");
    r.is_ip = true;
    r.prefix_bits = n + (128 - family_bits);
    return r;
  }
  int family_bits = 0;
  if (ParseIp(host, &r.net, &family_bits)) {
    r.is_ip = true;
    return r;
  }
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
  std::array<uint8_t, 16> ip{};
  int bits = 0;
  const bool host_is_ip = ParseIp(host, &ip, &bits);
  for (const Rule& r : no_proxy_) {
    if (r.port && r.port != target.port) continue;
    if (r.is_ip) {
      if (host_is_ip && SamePrefix(ip, r.net, r.prefix_bits)) return true;
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
