// IP networks (CIDR), for NO_PROXY entries and trusted reverse proxies.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace wharf {

// An address and a prefix length. IPv4 is held as ::ffff:a.b.c.d, so one
// comparison serves both families.
struct IpNet {
  std::array<uint8_t, 16> addr{};
  int prefix_bits = 128;

  // "10.0.0.0/8", "fd00::/8", or one address ("192.0.2.7", "::1"), which
  // is a network of one. nullopt for anything else.
  static std::optional<IpNet> Parse(std::string_view text);
  // True if `ip` (one address, without brackets or port) lies in it.
  bool Contains(std::string_view ip) const;
};

}  // namespace wharf
