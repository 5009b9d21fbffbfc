// The token service's signing key, kept in a file so that tokens outlive a
// restart and instances that share the file accept each other's tokens
// (several replicas behind one Service, a rolling update).
#pragma once

#include <string>

#include "util/status.h"

namespace wharf::registry {

// Reads the key from `path`: the file's bytes without trailing whitespace,
// at least 32 of them (e.g. `openssl rand -hex 32`). When the file does not
// exist, makes one (64 random hex digits, mode 0600) first; if another
// process makes it at the same moment, both use the one that landed.
// Fails with the reason (unreadable, too short, cannot be created).
// Blocking; thread-safe.
Result<std::string> LoadOrCreateTokenKey(const std::string& path);

}  // namespace wharf::registry
