#include "config/registry_yaml.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "util/ascii.h"
#include "util/json_text.h"

namespace wharf {
namespace {

using json = nlohmann::json;

// Keys under `storage:` that configure the storage, not name its driver.
bool StorageSetting(const std::string& key) {
  return key == "delete" || key == "maintenance" || key == "cache" || key == "redirect" || key == "tag";
}

json ToJson(const YAML::Node& n) {
  if (n.IsSequence()) {
    json a = json::array();
    for (const YAML::Node& item : n) a.push_back(ToJson(item));
    return a;
  }
  if (n.IsMap()) {
    json o = json::object();
    for (const auto& kv : n) o[kv.first.Scalar()] = ToJson(kv.second);
    return o;
  }
  if (!n.IsScalar()) return nullptr;
  const std::string& s = n.Scalar();
  if (n.Tag() != "!") {  // a plain (unquoted) scalar may be a number or a boolean
    int64_t i = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
    if (!s.empty() && ec == std::errc() && p == s.data() + s.size()) return i;
    if (s == "true" || s == "false") return s == "true";
  }
  return s;
}

void Flatten(const YAML::Node& n, const std::string& var, const std::string& key, RegistryYaml* out) {
  auto set = [&](std::string value) {
    out->vars[var] = std::move(value);
    out->keys[var] = key;
  };
  if (n.IsMap()) {
    const bool headers = var == "REGISTRY_HTTP_HEADERS";
    for (const auto& kv : n) {
      const std::string child = kv.first.Scalar();
      if (var == "REGISTRY_AUTH" || (var == "REGISTRY_STORAGE" && !StorageSetting(child))) set(child);
      Flatten(kv.second, var + "_" + (headers ? child : AsciiUpper(child)),
              key.empty() ? child : key + "." + child, out);
    }
  } else if (n.IsSequence()) {
    set(JsonText(ToJson(n)));
  } else if (n.IsScalar()) {
    set(n.Scalar());
  }  // null (`secret:` with no value) sets nothing
}

}  // namespace

bool IsYamlPath(std::string_view path) { return path.ends_with(".yml") || path.ends_with(".yaml"); }

std::string RegistryYaml::InKeyTerms(const std::string& message) const {
  // The longest variable the message starts with: REGISTRY_AUTH_HTPASSWD_PATH, not REGISTRY_AUTH.
  const std::string* var = nullptr;
  for (const auto& [v, k] : keys)
    if (message.starts_with(v) && (message.size() == v.size() || message[v.size()] == ' ' ||
                                   message[v.size()] == ':') &&
        (!var || v.size() > var->size()))
      var = &v;
  return var ? "key " + keys.at(*var) + message.substr(var->size()) : message;
}

Result<RegistryYaml> RegistryYamlVars(const std::string& text, const std::string& origin) {
  YAML::Node doc;
  try {  // yaml-cpp reports errors only by exception; it stays here
    doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status(Code::kInvalid, origin + ": invalid YAML: " + e.what());
  }
  if (!doc.IsMap()) return Status(Code::kInvalid, origin + ": the top level must be a mapping");
  RegistryYaml out;
  Flatten(doc, "REGISTRY", "", &out);
  // As in the reference registry: a storage driver is required (Wharf's
  // default root would otherwise put the data where no volume is), and the
  // filesystem driver's root defaults to /var/lib/registry.
  auto driver = out.vars.find("REGISTRY_STORAGE");
  if (driver == out.vars.end())
    return Status(Code::kInvalid, origin + ": no storage configured: add storage: filesystem: rootdirectory: "
                                           "(the reference registry requires it too)");
  if (driver->second == "filesystem" && !out.vars.count("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY")) {
    out.vars["REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY"] = "/var/lib/registry";
    out.keys["REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY"] = "storage.filesystem.rootdirectory";
  }
  return out;
}

}  // namespace wharf
