// libFuzzer target: repository names, tags, references, digests and media
// types, with round-trip and safety properties: nothing accepted as a name
// or digest can reach outside the storage tree.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/request.h"
#include "http/response.h"
#include "registry/names.h"
#include "registry/reference.h"
#include "util/digest.h"
#include "util/encoding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  if (wharf::registry::ValidName(s)) {
    if (s.find("..") != std::string_view::npos || s.find('\0') != std::string_view::npos ||
        s.find('\\') != std::string_view::npos || s.empty() || s[0] == '/' || s.back() == '/')
      __builtin_trap();
  }
  (void)wharf::registry::ValidTag(s);
  (void)wharf::registry::ValidMediaType(s);
  auto d = wharf::Digest::Parse(s);
  if (d.ok()) {
    if (d->str() != s) __builtin_trap();  // canonical: parse(str(x)) is x
    for (char c : d->hex)
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) __builtin_trap();
  }
  wharf::registry::Reference ref;
  wharf::http::Response res;
  (void)wharf::registry::ParseReference(s, &ref, res);
  (void)wharf::UrlDecode(s, true);
  return 0;
}
