// The reference registry's config.yml, read as the REGISTRY_* variables it
// stands for, so that a registry:2 configuration file works unchanged
// (`wharf serve --config /etc/docker/registry/config.yml`).
//
// The reference registry maps every key path to a variable the same way:
// `http: tls: certificate: X` is REGISTRY_HTTP_TLS_CERTIFICATE=X. Beyond that
// spelling, a driver named as a key is also the value of its parent:
// `auth: htpasswd: ...` gives REGISTRY_AUTH=htpasswd, and `storage: s3: ...`
// REGISTRY_STORAGE=s3 (which Wharf then refuses, as for the variable). Names
// under `http: headers:` keep their case. A list (`clientcas`,
// `notifications: endpoints`, a header's values) becomes one variable
// holding it as JSON, with integers and booleans typed. As in the reference
// registry, a storage driver is required, and the filesystem driver's
// rootdirectory defaults to /var/lib/registry. The caller applies
// the variables as it applies the environment, so what Wharf ignores or
// refuses is named the same way.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "util/status.h"

namespace wharf {

// True if `path` names a YAML file (.yml or .yaml).
bool IsYamlPath(std::string_view path);

struct RegistryYaml {
  std::map<std::string, std::string> vars;  // variable -> value
  std::map<std::string, std::string> keys;  // variable -> the key it came from ("http.tls.key")
  // `message` (about a variable, as ApplyEnv words it) about the key instead.
  std::string InKeyTerms(const std::string& message) const;
};

// The variables of the YAML document `text`; kInvalid with the parser's
// message (and `origin`, the file name) if it is not YAML or not a mapping.
Result<RegistryYaml> RegistryYamlVars(const std::string& text, const std::string& origin);

}  // namespace wharf
