// Small helpers for the registry's response headers.
#pragma once

#include <string>
#include <string_view>

namespace wharf::registry {

// The quoted ETag of a digest: "\"sha256:…\"".
std::string ETagOf(std::string_view digest);
// True if an If-None-Match header value matches `etag` (or is "*").
bool NoneMatch(std::string_view if_none_match, std::string_view etag);

}  // namespace wharf::registry
