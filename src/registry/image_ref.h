// An image as users write it ("alpine", "ghcr.io/org/app:1.2",
// "registry.local:5000/team/app@sha256:..."), read as docker reads it.
#pragma once

#include <string>
#include <string_view>

#include "util/status.h"

namespace wharf::registry {

struct ImageRef {
  std::string registry;   // "docker.io", "ghcr.io", "registry.local:5000"
  std::string repo;       // "library/alpine"
  std::string reference;  // a tag ("latest" when none was given) or a digest

  // "docker.io/library/alpine:3.19", or "...@sha256:..." for a digest.
  std::string ToString() const;
};

// The host names Docker Hub serves under besides docker.io
// (registry-1.docker.io, index.docker.io, registry.hub.docker.com).
bool IsDockerHubHost(std::string_view host);

// The first component names the registry when it has a '.' or a ':' or is
// "localhost"; otherwise the image is `default_registry`'s. Docker Hub's
// one-component names are under library/, and its other host names
// (IsDockerHubHost) are docker.io. A tag beside a
// digest is checked, and the digest decides. kInvalid, with
// why, for a name, tag or digest that the distribution spec does not allow.
// Pure; thread-safe.
Result<ImageRef> ParseImageRef(std::string_view s, std::string_view default_registry);

}  // namespace wharf::registry
