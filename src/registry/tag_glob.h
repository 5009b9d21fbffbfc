// Tag globs, as storage.retention and storage.immutable_tags name tags.
// Pure; thread-safe.
#pragma once

#include <string_view>

namespace wharf::registry {

// Shell-style match of a whole tag: '*' any run of characters, '?' one.
bool TagGlobMatch(std::string_view pattern, std::string_view tag);

}  // namespace wharf::registry
