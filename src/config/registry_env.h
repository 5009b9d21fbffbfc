// The reference registry's REGISTRY_* variables that Wharf does not map to
// one of its keys. Compose files and Kubernetes manifests written for
// registry:2 carry many; each one is judged, so that nothing a user set is
// dropped without a word:
//   - needless: what it configures is not a thing here (REGISTRY_HTTP_SECRET
//     signs upload state that Wharf keeps server-side; Location headers are
//     always relative; blob descriptor caches; REGISTRY_STORAGE=filesystem);
//   - ignored: a feature Wharf does not have, or has under another key
//     (REGISTRY_HTTP_HOST, REGISTRY_NOTIFICATIONS_EVENTS_*, ...), logged at start
//     with what to use instead;
//   - refused: another storage driver (S3, Azure, GCS, ...): running with
//     the local disk instead of the bucket the user named would lose data
//     where they do not look for it.
#pragma once

#include <string>

namespace wharf {

struct RegistryEnvVerdict {
  enum Kind { kNeedless, kIgnored, kRefused } kind = kNeedless;
  std::string message;  // for kIgnored and kRefused: one line naming the variable
};

// REQUIRES: `name` starts with "REGISTRY_" and is not one Wharf maps.
RegistryEnvVerdict JudgeRegistryEnv(const std::string& name, const std::string& value);

}  // namespace wharf
