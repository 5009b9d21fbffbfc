// Tag immutability for hosted repositories (storage.immutable_tags): a
// release tag such as v1.2.3, once pushed, keeps pointing at what it was
// pushed as, so that every later pull of it gets the same bytes.
//
// A repository is governed by the rule with the longest prefix that holds it
// (HostedRuleFor), so a narrower rule with no tags frees a subtree. A tag of a
// governed repository is immutable when it matches one of the rule's globs.
// An immutable tag can be pushed again at the manifest it points at (a
// retried push succeeds), but it cannot be moved to another manifest, be
// deleted, or lose its manifest to a delete by digest, and retention never
// removes it. Cached (proxied) repositories are never governed: their tags
// follow the upstream.
//
// Pure functions; thread-safe.
#pragma once

#include <string_view>
#include <vector>

#include "config/config.h"

namespace wharf::registry {

bool TagImmutable(const std::vector<ImmutableTagRule>& rules, std::string_view repo, std::string_view tag);

}  // namespace wharf::registry
