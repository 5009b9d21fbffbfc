#include "config/notify_config.h"

#include <cctype>
#include <nlohmann/json.hpp>

#include "proxy/url.h"
#include "util/ascii.h"

namespace wharf {
namespace {

using json = nlohmann::json;

Status Strings(const json& v, const std::string& what, std::vector<std::string>* out) {
  if (!v.is_array()) return Invalid(what + ": expected a list of strings");
  for (const json& s : v) {
    if (!s.is_string()) return Invalid(what + ": expected a list of strings");
    out->push_back(s.get<std::string>());
  }
  return Status();
}

Status Endpoint(const json& e, NotifyEndpointConfig* ep, bool* disabled) {
  if (!e.is_object()) return Invalid("each endpoint must be an object");
  if (e.contains("name") && e["name"].is_string()) ep->name = e["name"].get<std::string>();
  const std::string at = ep->name.empty() ? std::string("an endpoint") : ep->name;
  for (auto it = e.begin(); it != e.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    const std::string where = at + "." + k;
    if (k == "name") {
      if (!v.is_string()) return Invalid(where + ": expected a string");
    } else if (k == "url") {
      if (!v.is_string()) return Invalid(where + ": expected a string");
      ep->url = v.get<std::string>();
      auto u = proxy::Url::Parse(ep->url);
      if (!u.ok()) return Invalid(where + ": " + u.status().message());
    } else if (k == "headers") {
      if (!v.is_object()) return Invalid(where + ": expected {\"Name\": [\"value\"]}");
      for (auto h = v.begin(); h != v.end(); ++h) {
        if (!IsHttpToken(h.key())) return Invalid(where + ": '" + h.key() + "' is not a header name");
        std::vector<std::string> values;
        if (h.value().is_string()) values.push_back(h.value().get<std::string>());
        else WHARF_RETURN_IF_ERROR(Strings(h.value(), where + "." + h.key(), &values));
        for (std::string& one : values) {
          if (!IsSafeHeaderValue(one))
            return Invalid(where + "." + h.key() + ": a value must not contain CR, LF or NUL");
          ep->headers.emplace_back(h.key(), std::move(one));
        }
      }
    } else if (k == "timeout" || k == "backoff") {
      auto ms = DurationMs(v);
      if (!ms.ok()) return Invalid(where + ": " + ms.status().message());
      (k == "timeout" ? ep->timeout_ms : ep->backoff_ms) = *ms;
    } else if (k == "threshold") {
      if (!v.is_number_unsigned() || v.get<uint64_t>() > 1000) return Invalid(where + ": expected 0 to 1000");
      ep->threshold = v.get<uint32_t>();
    } else if (k == "ca_file") {
      if (!v.is_string()) return Invalid(where + ": expected a file name");
      ep->ca_file = v.get<std::string>();
    } else if (k == "disabled") {
      if (!v.is_boolean()) return Invalid(where + ": expected true or false");
      *disabled = v.get<bool>();
    } else if (k == "ignoredmediatypes") {
      WHARF_RETURN_IF_ERROR(Strings(v, where, &ep->ignored_media_types));
    } else if (k == "ignore") {
      if (!v.is_object()) return Invalid(where + ": expected {\"mediatypes\": [...], \"actions\": [...]}");
      for (auto i = v.begin(); i != v.end(); ++i) {
        if (i.key() == "mediatypes") {
          WHARF_RETURN_IF_ERROR(Strings(i.value(), where + ".mediatypes", &ep->ignored_media_types));
        } else if (i.key() == "actions") {
          WHARF_RETURN_IF_ERROR(Strings(i.value(), where + ".actions", &ep->ignored_actions));
          for (const std::string& a : ep->ignored_actions)
            if (a != "push" && a != "pull" && a != "mount" && a != "delete")
              return Invalid(where + ".actions: '" + a + "' is not one of push, pull, mount, delete");
        } else {
          return Invalid(where + "." + i.key() + ": unknown key");
        }
      }
    } else {
      return Invalid(where + ": unknown key");
    }
  }
  if (ep->name.empty()) return Invalid("an endpoint needs a name");
  for (char ch : ep->name)  // it labels metrics and log lines
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '_' && ch != '-')
      return Invalid("'" + ep->name + "': an endpoint name is letters, digits, '.', '_' and '-'");
  if (ep->url.empty()) return Invalid(at + ": needs a url");
  if (ep->timeout_ms == 0) return Invalid(at + ".timeout: must be more than 0");
  return Status();
}

}  // namespace

Status ParseNotifyEndpoints(const json& v, std::vector<NotifyEndpointConfig>* out) {
  if (!v.is_array()) return Invalid("expected a list of {name, url, ...}");
  std::vector<NotifyEndpointConfig> eps;
  for (const json& e : v) {
    NotifyEndpointConfig ep;
    bool disabled = false;
    WHARF_RETURN_IF_ERROR(Endpoint(e, &ep, &disabled));
    for (const auto& other : eps)
      if (other.name == ep.name) return Invalid(ep.name + ": two endpoints with this name");
    if (!disabled) eps.push_back(std::move(ep));
  }
  *out = std::move(eps);
  return Status();
}

}  // namespace wharf
