#include "registry/reference.h"

#include "registry/errors.h"
#include "registry/names.h"

namespace wharf::registry {

bool ParseReference(std::string_view ref, Reference* out, http::Response& res) {
  if (LooksLikeDigest(ref)) {
    auto d = Digest::Parse(ref);
    if (!d.ok()) {
      Fail(res, Err::kDigestInvalid, d.status().message());
      return false;
    }
    out->is_digest = true;
    out->digest = *d;
    return true;
  }
  if (!ValidTag(ref)) {
    Fail(res, Err::kTagInvalid, "invalid tag: must match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}");
    return false;
  }
  out->tag = std::string(ref);
  return true;
}

}  // namespace wharf::registry
