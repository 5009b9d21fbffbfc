// libFuzzer target: the configuration loader (JSON with comments, or the
// reference registry's YAML as REGISTRY_* variables; every key's type and
// range checks, derived values) and the printed summary.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.h"
#include "config/registry_yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  wharf::Config cfg;
  if (wharf::ApplyJson(text, "fuzz", &cfg).ok() && wharf::Validate(&cfg).ok())
    (void)wharf::Describe(cfg);
  wharf::Config from_yaml;
  auto yaml = wharf::RegistryYamlVars(std::string(text), "fuzz");
  if (yaml.ok() && wharf::ApplyEnv(yaml->vars, &from_yaml).ok() && wharf::Validate(&from_yaml).ok())
    (void)wharf::Describe(from_yaml);
  (void)wharf::ParseSize(text.substr(0, 64));
  return 0;
}
