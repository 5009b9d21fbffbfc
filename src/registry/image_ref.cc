#include "registry/image_ref.h"

#include "registry/names.h"
#include "util/digest.h"

namespace wharf::registry {

bool IsDockerHubHost(std::string_view host) {
  return host == "registry-1.docker.io" || host == "index.docker.io" || host == "registry.hub.docker.com";
}

std::string ImageRef::ToString() const {
  return registry + "/" + repo + (LooksLikeDigest(reference) ? "@" : ":") + reference;
}

Result<ImageRef> ParseImageRef(std::string_view s, std::string_view default_registry) {
  const std::string whole(s);
  ImageRef r;
  if (size_t at = s.find('@'); at != std::string_view::npos) {
    auto d = Digest::Parse(s.substr(at + 1));
    if (!d.ok()) return Invalid(whole + ": " + d.status().message());
    r.reference = d->str();
    s = s.substr(0, at);
  }
  const size_t slash = s.find('/');
  const std::string_view first = s.substr(0, slash);
  if (slash != std::string_view::npos &&
      (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
       first == "localhost")) {
    r.registry = std::string(first);
    s = s.substr(slash + 1);
  } else {
    r.registry = std::string(default_registry);
  }
  if (IsDockerHubHost(r.registry)) r.registry = "docker.io";
  if (size_t colon = s.rfind(':'); colon != std::string_view::npos && s.find('/', colon) == std::string_view::npos) {
    const std::string tag(s.substr(colon + 1));
    if (!ValidTag(tag)) return Invalid(whole + ": invalid tag '" + tag + "'");
    if (r.reference.empty()) r.reference = tag;  // with a digest too, as docker, the digest decides
    s = s.substr(0, colon);
  }
  if (r.reference.empty()) r.reference = "latest";
  r.repo = std::string(s);
  if (r.registry == "docker.io" && r.repo.find('/') == std::string::npos) r.repo = "library/" + r.repo;
  if (!ValidName(r.repo)) return Invalid(whole + ": invalid repository name '" + r.repo + "'");
  return r;
}

}  // namespace wharf::registry
