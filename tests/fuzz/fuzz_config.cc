// libFuzzer target: the configuration loader (JSON with comments, every
// key's type and range checks, derived values) and the printed summary.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  wharf::Config cfg;
  if (wharf::ApplyJson(text, "fuzz", &cfg).ok() && wharf::Validate(&cfg).ok())
    (void)wharf::Describe(cfg);
  (void)wharf::ParseSize(text.substr(0, 64));
  return 0;
}
