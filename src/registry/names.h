// The name grammar of the OCI distribution spec, in one place.
//
//   name      [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
//             at most 255 characters
//   tag       [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
//   reference a tag or a digest (see util/digest.h)
// A name that passes contains no "..", no NUL, no '%' and no empty
// component, so it can never leave the storage root.
#pragma once

#include <string_view>

namespace wharf::registry {

constexpr size_t kMaxNameLength = 255;

bool ValidName(std::string_view name);
bool ValidTag(std::string_view tag);
// True if `ref` has the shape of a digest (contains ':'); it must then be
// parsed with Digest::Parse, otherwise validated as a tag.
inline bool LooksLikeDigest(std::string_view ref) { return ref.find(':') != std::string_view::npos; }
// A media type "type/subtype" of RFC 6838 restricted-name characters,
// optionally followed by parameters without control characters.
bool ValidMediaType(std::string_view mt);

}  // namespace wharf::registry
