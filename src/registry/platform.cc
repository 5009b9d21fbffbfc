#include "registry/platform.h"

#include <sys/utsname.h>

#include <algorithm>

#include "util/digest.h"

namespace wharf::registry {
namespace {

using json = nlohmann::json;

bool StringIs(const json& obj, const char* key, std::string_view want) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() && it->get<std::string>() == want;
}

}  // namespace

Result<Platform> ParsePlatform(std::string_view s) {
  Platform p;
  const size_t a = s.find('/');
  if (a == std::string_view::npos) return Invalid("platform '" + std::string(s) + "': expected os/architecture[/variant]");
  p.os = std::string(s.substr(0, a));
  std::string_view rest = s.substr(a + 1);
  const size_t b = rest.find('/');
  p.architecture = std::string(rest.substr(0, b));
  if (b != std::string_view::npos) p.variant = std::string(rest.substr(b + 1));
  auto word = [](const std::string& w) {
    return !w.empty() && std::all_of(w.begin(), w.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
  };
  if (!word(p.os) || !word(p.architecture) || (b != std::string_view::npos && !word(p.variant)))
    return Invalid("platform '" + std::string(s) + "': expected os/architecture[/variant]");
  return p;
}

Platform HostPlatform() {
  utsname u{};
  std::string m = uname(&u) == 0 ? u.machine : "";
  Platform p{"linux", m, ""};
  if (m == "x86_64") p.architecture = "amd64";
  else if (m == "aarch64" || m == "arm64") p.architecture = "arm64";
  else if (m == "armv7l") p = {"linux", "arm", "v7"};
  else if (m == "armv6l") p = {"linux", "arm", "v6"};
  else if (m == "i386" || m == "i686") p.architecture = "386";
  return p;
}

bool PlatformMatches(const json& platform, const Platform& want) {
  return platform.is_object() && StringIs(platform, "os", want.os) &&
         StringIs(platform, "architecture", want.architecture) &&
         (want.variant.empty() || StringIs(platform, "variant", want.variant));
}

std::vector<std::string> IndexEntriesFor(std::string_view index_body, const std::vector<Platform>& want, bool all) {
  std::vector<std::string> out;
  json doc = json::parse(index_body, nullptr, false);
  auto ms = doc.is_object() ? doc.find("manifests") : doc.end();
  if (!doc.is_object() || ms == doc.end() || !ms->is_array()) return out;
  for (const json& d : *ms) {
    if (!d.is_object()) continue;
    auto dg = d.find("digest");
    if (dg == d.end() || !dg->is_string() || !Digest::Parse(dg->get<std::string>()).ok()) continue;
    auto pl = d.find("platform");
    const bool chosen = all || (pl != d.end() && std::any_of(want.begin(), want.end(), [&](const Platform& w) {
                                  return PlatformMatches(*pl, w);
                                }));
    if (chosen && std::find(out.begin(), out.end(), dg->get<std::string>()) == out.end())
      out.push_back(dg->get<std::string>());
  }
  return out;
}

}  // namespace wharf::registry
