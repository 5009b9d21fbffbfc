// libFuzzer target: manifest and index parsing and validation, with every
// media type a client may declare, plus Accept negotiation.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "registry/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const char* kTypes[] = {
      "",
      "application/vnd.oci.image.manifest.v1+json",
      "application/vnd.oci.image.index.v1+json",
      "application/vnd.docker.distribution.manifest.v2+json",
      "application/vnd.docker.distribution.manifest.list.v2+json",
      "application/vnd.docker.distribution.manifest.v1+prettyjws",
      "application/json",
      "text/plain",
  };
  if (size < 1) return 0;
  std::string_view ct = kTypes[data[0] % (sizeof kTypes / sizeof *kTypes)];
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  wharf::registry::ParsedManifest m;
  wharf::registry::ManifestError err;
  if (wharf::registry::ParseManifest(body, ct, &m, &err)) {
    std::string d = wharf::registry::ReferrerDescriptor(m, "sha256:" + std::string(64, 'a'), body.size());
    if (d.empty()) __builtin_trap();
    (void)wharf::registry::Accepts(body.substr(0, 200), m.media_type);
  } else if (err.message.empty()) {
    __builtin_trap();  // a refusal always says why
  }
  return 0;
}
