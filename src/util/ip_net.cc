#include "util/ip_net.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <string>

namespace wharf {
namespace {

// *bits gets 32 or 128, the family's length.
bool ParseAddress(std::string_view text, IpAddress* out, int* bits) {
  const std::string s(text);
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

}  // namespace

std::optional<IpAddress> ParseIpAddress(std::string_view ip) {
  IpAddress a{};
  int family_bits = 0;
  if (!ParseAddress(ip, &a, &family_bits)) return std::nullopt;
  return a;
}

std::optional<IpNet> IpNet::Parse(std::string_view text) {
  IpNet n;
  int family_bits = 0;
  const size_t slash = text.find('/');
  if (!ParseAddress(text.substr(0, slash), &n.addr, &family_bits)) return std::nullopt;
  if (slash == std::string_view::npos) return n;
  std::string_view len = text.substr(slash + 1);
  int bits = -1;
  auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), bits);
  if (len.empty() || ec != std::errc() || p != len.data() + len.size() || bits < 0 || bits > family_bits)
    return std::nullopt;
  n.prefix_bits = bits + (128 - family_bits);
  return n;
}

bool IpNet::Contains(const IpAddress& a) const {
  const size_t full = static_cast<size_t>(prefix_bits / 8);
  if (std::memcmp(a.data(), addr.data(), full) != 0) return false;
  if (prefix_bits % 8 == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - prefix_bits % 8));
  return (a[full] & mask) == (addr[full] & mask);
}

}  // namespace wharf
