#include "proxy/url.h"

#include <cctype>
#include <charconv>

namespace wharf::proxy {

bool ParsePort(std::string_view s, uint16_t* out) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535) return false;
  *out = static_cast<uint16_t>(v);
  return true;
}

Result<Url> Url::Parse(std::string_view s) {
  Url u;
  if (s.rfind("https://", 0) == 0) {
    s.remove_prefix(8);
  } else if (s.rfind("http://", 0) == 0) {
    u.tls = false;
    u.port = 80;
    s.remove_prefix(7);
  } else {
    return Invalid("URL must start with http:// or https://");
  }
  size_t slash = s.find('/');
  std::string_view hp = s.substr(0, slash);
  u.path = slash == std::string_view::npos ? "/" : std::string(s.substr(slash));
  if (hp.empty()) return Invalid("URL has no host");
  std::string_view host = hp, port;
  if (hp.front() == '[') {
    size_t close = hp.find(']');
    if (close == std::string_view::npos) return Invalid("bad IPv6 address in URL");
    host = hp.substr(1, close - 1);
    if (close + 1 < hp.size() && hp[close + 1] == ':') port = hp.substr(close + 2);
  } else if (size_t colon = hp.rfind(':'); colon != std::string_view::npos) {
    host = hp.substr(0, colon);
    port = hp.substr(colon + 1);
  }
  if (!port.empty() && !ParsePort(port, &u.port)) return Invalid("bad port in URL");
  // These URLs also come from upstreams (token realms, redirects) and end up
  // in request lines and Host headers: nothing that could split them.
  if (host.empty()) return Invalid("URL has no host");
  for (char c : host)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_' && c != ':' && c != '%')
      return Invalid("bad character in URL host");
  for (char c : u.path)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return Invalid("bad character in URL path");
  u.host = std::string(host);
  return u;
}

Result<Url> Url::Resolve(std::string_view location) const {
  if (location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0)
    return Parse(location);
  if (location.empty() || location.front() != '/') return Invalid("unsupported relative Location");
  return Parse(Origin() + std::string(location));  // the same checks as any URL
}

std::string Url::HostPort() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

std::string Url::Origin() const {
  return unix_socket.empty() ? (tls ? "https://" : "http://") + HostPort() : "unix:" + unix_socket;
}

}  // namespace wharf::proxy
