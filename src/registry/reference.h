// A manifest reference from a URL: a tag or a digest, validated.
#pragma once

#include <string>
#include <string_view>

#include "http/response.h"
#include "util/digest.h"

namespace wharf::registry {

struct Reference {
  bool is_digest = false;
  std::string tag;
  Digest digest;
  std::string str() const { return is_digest ? digest.str() : tag; }
};

// Parses `ref`; on error answers TAG_INVALID or DIGEST_INVALID in `res`.
bool ParseReference(std::string_view ref, Reference* out, http::Response& res);

}  // namespace wharf::registry
