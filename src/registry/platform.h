// Platforms as image indexes name them ("os": "linux", "architecture":
// "arm64", "variant": "v8"), and the choice of an index's entries.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/status.h"

namespace wharf::registry {

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;  // empty: any
};

// "linux/amd64", "linux/arm/v7"; kInvalid otherwise.
Result<Platform> ParsePlatform(std::string_view s);

// This machine's platform as an index names it (uname's x86_64 is amd64,
// aarch64 arm64, armv7l arm/v7, ...), what `docker pull` here would pick.
Platform HostPlatform();

// Whether an index entry's "platform" object is `want`'s (any variant when
// `want` names none). False for anything that is not such an object.
bool PlatformMatches(const nlohmann::json& platform, const Platform& want);

// The digests of the entries of image index `index_body` whose platform is
// one of `want` (every entry when `all`), in index order, each once; entries
// without a valid digest are left out. Pure; thread-safe.
std::vector<std::string> IndexEntriesFor(std::string_view index_body, const std::vector<Platform>& want, bool all);

}  // namespace wharf::registry
