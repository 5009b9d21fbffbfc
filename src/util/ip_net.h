// IP networks (CIDR), for NO_PROXY entries and trusted reverse proxies.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace wharf {

// One address, IPv4 held as ::ffff:a.b.c.d so that one comparison serves
// both families.
using IpAddress = std::array<uint8_t, 16>;

// `ip` (without brackets or port) as an IpAddress; nullopt if it is none.
std::optional<IpAddress> ParseIpAddress(std::string_view ip);

// An address and a prefix length.
struct IpNet {
  IpAddress addr{};
  int prefix_bits = 128;

  // "10.0.0.0/8", "fd00::/8", or one address ("192.0.2.7", "::1"), which
  // is a network of one. nullopt for anything else.
  static std::optional<IpNet> Parse(std::string_view text);
  bool Contains(const IpAddress& a) const;
  // True if `ip` (one address, without brackets or port) lies in it. To test
  // one address against many networks, parse it once (ParseIpAddress).
  bool Contains(std::string_view ip) const {
    auto a = ParseIpAddress(ip);
    return a && Contains(*a);
  }
};

}  // namespace wharf
