#include "config/config.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <nlohmann/json.hpp>

#include "config/notify_config.h"
#include "config/registry_env.h"
#include "config/registry_yaml.h"
#include "proxy/egress.h"
#include "util/ascii.h"
#include "util/ip_net.h"
#include "util/log.h"
#include "util/json_text.h"
#include "util/repo_prefix.h"

extern char** environ;

namespace wharf {
namespace {

using json = nlohmann::json;

enum class Kind { kString, kUint, kBool, kJson };

// One settable key. Every key of the file format and every environment
// variable goes through this table, so the two can never disagree.
struct Leaf {
  const char* path;  // "http.limits.max_connections"
  Kind kind;
  uint64_t min = 0, max = 0;  // for kUint
  std::function<Status(const json&)> set;
};

template <class T>
Leaf UintLeaf(const char* path, T* target, uint64_t min, uint64_t max) {
  return Leaf{path, Kind::kUint, min, max, [target](const json& v) {
                *target = static_cast<T>(v.get<uint64_t>());
                return Status();
              }};
}
// A byte count: an integer, or a string with a unit ("200GiB", "512MB").
Leaf SizeLeaf(const char* path, uint64_t* target) {
  return Leaf{path, Kind::kJson, 0, 0, [target](const json& v) {
                if (v.is_number_unsigned()) {
                  *target = v.get<uint64_t>();
                  return Status();
                }
                if (!v.is_string()) return Invalid("expected a size such as 200GiB");
                auto n = ParseSize(v.get<std::string>());
                if (!n.ok()) return n.status();
                *target = *n;
                return Status();
              }};
}

// A duration in seconds: an integer, or a string as Go writes durations
// ("168h", "1h30m", "90s"; "7d" too).
Leaf DurationLeaf(const char* path, uint64_t* seconds, uint64_t min_seconds = 0) {
  return Leaf{path, Kind::kJson, 0, 0, [seconds, min_seconds](const json& v) {
                auto ms = DurationMs(v);
                if (!ms.ok()) return ms.status();
                if (*ms < min_seconds * 1000)
                  return Invalid("must be at least " + std::to_string(min_seconds) + "s");
                *seconds = *ms / 1000;
                return Status();
              }};
}

// A boolean, or the reference registry's {"enabled": <bool>} (also in YAML's
// flow style, {enabled: true}, as compose files give it).
Leaf EnabledLeaf(const char* path, bool* target) {
  return Leaf{path, Kind::kJson, 0, 0, [target](const json& v) {
                const json& b = v.is_object() && v.size() == 1 && v.contains("enabled") ? v["enabled"] : v;
                if (b.is_boolean()) {
                  *target = b.get<bool>();
                  return Status();
                }
                if (v.is_string()) {
                  const std::string& text = v.get_ref<const std::string&>();
                  std::string_view s = TrimAsciiSpace(text);
                  if (s.size() >= 2 && s.front() == '{' && s.back() == '}') s = TrimAsciiSpace(s.substr(1, s.size() - 2));
                  if (s.starts_with("enabled")) s = TrimAsciiSpace(s.substr(7));
                  if (s.starts_with(':') && ParseBool(TrimAsciiSpace(s.substr(1)), target)) return Status();
                  if (ParseBool(s, target)) return Status();
                }
                return Invalid("expected true, false or {\"enabled\": true}");
              }};
}

Leaf StringLeaf(const char* path, std::string* target) {
  return Leaf{path, Kind::kString, 0, 0, [target](const json& v) {
                *target = v.get<std::string>();
                return Status();
              }};
}
Leaf BoolLeaf(const char* path, bool* target) {
  return Leaf{path, Kind::kBool, 0, 0, [target](const json& v) {
                *target = v.get<bool>();
                return Status();
              }};
}

// Headers that Wharf writes itself (framing, ids, content metadata, auth
// challenges): configuring them would duplicate or contradict its own.
constexpr const char* kOwnHeaders[] = {
    "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "date",
    "x-request-id", "content-type", "content-range", "range", "location", "etag", "www-authenticate",
    "docker-content-digest", "docker-distribution-api-version", "docker-upload-uuid"};

// Appends `name: value` lines for a configured response header; `v` is a
// value or a list of values (strings, or numbers and booleans as written).
Status AddHeaderValues(const std::string& name, const json& v,
                       std::vector<std::pair<std::string, std::string>>* out) {
  if (name.empty()) return Invalid("empty header name");
  if (!IsHttpToken(name)) return Invalid("'" + name + "' is not a header name");
  for (const char* own : kOwnHeaders)
    if (AsciiLower(name) == own) return Invalid(name + ": set by Wharf itself");
  const json values = v.is_array() ? v : json::array({v});
  if (values.empty()) return Invalid(name + ": no value");
  for (const json& one : values) {
    if (!one.is_string() && !one.is_boolean() && !one.is_number())
      return Invalid(name + ": values must be strings");
    std::string text = one.is_string() ? one.get<std::string>() : one.dump();
    if (!IsSafeHeaderValue(text)) return Invalid(name + ": a value must not contain CR, LF or NUL");
    out->emplace_back(name, std::move(text));
  }
  return Status();
}

// A list in an environment variable, as the reference registry takes it
// ("[a, b]", JSON or YAML flow style), or one value.
json FlowList(const std::string& text) {
  if (text.empty() || text.front() != '[') return text;
  json j = json::parse(text, nullptr, false);
  if (!j.is_discarded()) return j;
  json list = json::array();
  std::string_view body(text);
  body = body.substr(1, body.back() == ']' ? body.size() - 2 : body.size() - 1);
  while (!body.empty()) {
    size_t comma = body.find(',');
    std::string_view item = body.substr(0, comma);
    body = comma == std::string_view::npos ? std::string_view() : body.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.size() >= 2 && (item.front() == '\'' || item.front() == '"') && item.back() == item.front())
      item = item.substr(1, item.size() - 2);
    list.push_back(std::string(item));
  }
  return list;
}

// One string or a list of them (an environment variable's in flow style,
// see FlowList); `what` names an item in errors, `valid` checks each one.
Leaf StringListLeaf(const char* path, const char* what, std::vector<std::string>* target,
                    std::function<bool(const std::string&)> valid = nullptr) {
  return Leaf{path, Kind::kJson, 0, 0, [what, target, valid](const json& v) {
                const json list = v.is_string() ? FlowList(v.get<std::string>()) : v;
                std::vector<std::string> out;
                for (const json& one : list.is_array() ? list : json::array({list})) {
                  if (!one.is_string() || one.get<std::string>().empty() ||
                      (valid && !valid(one.get<std::string>())))
                    return Invalid(std::string("expected ") + what + " or a list of them" +
                                   (one.is_string() ? ", not '" + one.get<std::string>() + "'" : ""));
                  out.push_back(one.get<std::string>());
                }
                *target = std::move(out);
                return Status();
              }};
}

Status FieldExpected(const std::string& field, const char* what) {
  return Invalid("rule field '" + field + "': expected " + what);
}

bool IsStringList(const json& v) {
  return v.is_array() && std::all_of(v.begin(), v.end(), [](const json& s) { return s.is_string(); });
}

Status TagGlobs(const std::string& field, const json& f, std::vector<std::string>* out) {
  if (!IsStringList(f)) return FieldExpected(field, "a list of tag globs");
  *out = f.get<std::vector<std::string>>();
  return Status();
}

// A list of rules that each govern the repositories under their `prefix`
// (storage.retention, storage.immutable_tags): `field` sets every other
// field of a rule, `check` judges a whole rule. `shape` names the fields
// in errors. Two rules for one prefix are refused.
template <class Rule>
Leaf PrefixRulesLeaf(const char* path, const char* shape, std::vector<Rule>* target,
                     std::function<Status(Rule&, const std::string&, const json&)> field,
                     std::function<Status(const Rule&)> check) {
  return Leaf{path, Kind::kJson, 0, 0, [shape, target, field, check](const json& v) {
                if (!v.is_array()) return Invalid(std::string("expected an array of ") + shape);
                std::vector<Rule> rules;
                for (const json& r : v) {
                  if (!r.is_object()) return Invalid("each rule must be an object");
                  Rule rule;
                  for (auto it = r.begin(); it != r.end(); ++it) {
                    if (it.key() != "prefix") {
                      WHARF_RETURN_IF_ERROR(field(rule, it.key(), it.value()));
                      continue;
                    }
                    if (!it.value().is_string()) return FieldExpected("prefix", "a string");
                    rule.prefix = RepoPrefix(it.value().get<std::string>());
                  }
                  WHARF_RETURN_IF_ERROR(check(rule));
                  for (const auto& other : rules)
                    if (other.prefix == rule.prefix) return Invalid("two rules for prefix '" + rule.prefix + "'");
                  rules.push_back(std::move(rule));
                }
                *target = std::move(rules);
                return Status();
              }};
}

std::vector<Leaf> Leaves(Config* c) {
  constexpr uint64_t kU32 = std::numeric_limits<uint32_t>::max();
  constexpr uint64_t kU64 = std::numeric_limits<uint64_t>::max();
  auto& l = c->http.limits;
  return {
      Leaf{"log.level", Kind::kString, 0, 0,
           [c](const json& v) {
             log::Level lv;
             std::string s = v.get<std::string>();
             if (!log::ParseLevel(s, &lv))
               return Invalid("'" + s + "' is not one of debug, info, warn, error");
             c->log_level = s;
             return Status();
           }},
      StringLeaf("http.addr", &c->http.addr),
      UintLeaf("http.workers", &c->http.workers, 0, 1024),
      StringLeaf("http.tls.certificate", &c->http.tls_certificate),
      StringLeaf("http.tls.key", &c->http.tls_key),
      StringListLeaf("http.tls.client_cas", "a file", &c->http.tls_client_cas),
      Leaf{"http.tls.minimum_version", Kind::kString, 0, 0,
           [c](const json& v) {
             if (!v.is_string()) return Invalid("expected tls1.2 or tls1.3");
             const std::string s = AsciiLower(v.get<std::string>());
             if (s == "tls1.0" || s == "tls1.1")
               return Invalid("'" + s + "': Wharf never offers TLS below 1.2 (use tls1.2 or tls1.3)");
             if (s != "tls1.2" && s != "tls1.3") return Invalid("'" + s + "': expected tls1.2 or tls1.3");
             c->http.tls13_only = s == "tls1.3";
             return Status();
           }},
      StringListLeaf("http.trusted_proxies", "an address or network", &c->http.trusted_proxies,
                     [](const std::string& s) { return IpNet::Parse(s).has_value(); }),
      StringLeaf("http.plain_addr", &c->http.plain_addr),
      Leaf{"http.access_log", Kind::kString, 0, 0,
           [c](const json& v) {
             std::string s = v.get<std::string>();
             if (s == "text") c->http.access_log = AccessLogFormat::kText;
             else if (s == "json") c->http.access_log = AccessLogFormat::kJson;
             else if (s == "off") c->http.access_log = AccessLogFormat::kOff;
             else return Invalid("'" + s + "' is not one of text, json, off");
             return Status();
           }},
      UintLeaf("http.shutdown_grace_seconds", &c->http.shutdown_grace_seconds, 0, 3600),
      Leaf{"http.headers", Kind::kJson, 0, 0,
           [c](const json& v) {
             if (!v.is_object()) return Invalid("expected an object: header name -> value or [values]");
             std::vector<std::pair<std::string, std::string>> hs;
             for (auto it = v.begin(); it != v.end(); ++it)
               WHARF_RETURN_IF_ERROR(AddHeaderValues(it.key(), it.value(), &hs));
             c->http.headers = std::move(hs);
             return Status();
           }},
      UintLeaf("http.limits.max_header_bytes", &l.max_header_bytes, 1024, 1 << 20),
      UintLeaf("http.limits.max_headers", &l.max_headers, 8, 1000),
      UintLeaf("http.limits.max_request_line", &l.max_request_line, 256, 1 << 20),
      UintLeaf("http.limits.max_manifest_bytes", &l.max_manifest_bytes, 1024, 64 << 20),
      UintLeaf("http.limits.max_blob_bytes", &l.max_blob_bytes, 0, kU64),
      UintLeaf("http.limits.header_timeout_seconds", &l.header_timeout_seconds, 1, 3600),
      UintLeaf("http.limits.idle_timeout_seconds", &l.idle_timeout_seconds, 1, 86400),
      UintLeaf("http.limits.max_connections", &l.max_connections, 1, 1000000),
      StringLeaf("storage.root", &c->storage.root),
      BoolLeaf("storage.delete_enabled", &c->storage.delete_enabled),
      EnabledLeaf("storage.read_only", &c->storage.read_only),
      UintLeaf("storage.upload_expiry_minutes", &c->storage.upload_expiry_minutes, 1, kU32),
      UintLeaf("storage.gc_grace_minutes", &c->storage.gc_grace_minutes, 0, kU32),
      UintLeaf("storage.gc_interval_seconds", &c->storage.gc_interval_seconds, 0, kU32),
      BoolLeaf("storage.gc_delete_untagged", &c->storage.gc_delete_untagged),
      PrefixRulesLeaf<RetentionRuleConfig>(
          "storage.retention", "{prefix, keep_last, keep_days, keep_tags}", &c->storage.retention,
          [](RetentionRuleConfig& rc, const std::string& k, const json& f) {
            if (k == "keep_last" || k == "keep_days") {
              if (!f.is_number_unsigned() || f.get<uint64_t>() > 1000000) return FieldExpected(k, "a count up to 1000000");
              (k == "keep_last" ? rc.keep_last : rc.keep_days) = f.get<uint32_t>();
              return Status();
            }
            if (k == "keep_tags") return TagGlobs(k, f, &rc.keep_tags);
            return Invalid("unknown rule field '" + k + "'");
          },
          [](const RetentionRuleConfig& rc) {
            // A rule that keeps nothing by age or count would untag
            // everything it governs at the next gc.
            if (rc.keep_last == 0 && rc.keep_days == 0)
              return Invalid("rule for '" + rc.prefix + "': set keep_last or keep_days (or both)");
            return Status();
          }),
      PrefixRulesLeaf<ImmutableTagRule>(
          "storage.immutable_tags", "{prefix, tags}", &c->storage.immutable_tags,
          [](ImmutableTagRule& r, const std::string& k, const json& f) {
            if (k == "tags") return TagGlobs(k, f, &r.tags);
            return Invalid("unknown rule field '" + k + "'");
          },
          [](const ImmutableTagRule&) { return Status(); }),
      PrefixRulesLeaf<QuotaRule>(
          "storage.quotas", "{prefix, max_bytes}", &c->storage.quotas,
          [](QuotaRule& r, const std::string& k, const json& f) {
            if (k != "max_bytes") return Invalid("unknown rule field '" + k + "'");
            if (f.is_number_unsigned()) {
              r.max_bytes = f.get<uint64_t>();
              return Status();
            }
            auto n = f.is_string() ? ParseSize(f.get<std::string>()) : Result<uint64_t>(Invalid(""));
            if (!n.ok()) return FieldExpected(k, "a size such as 50GiB");
            r.max_bytes = *n;
            return Status();
          },
          [](const QuotaRule& r) {
            if (r.max_bytes == 0) return Invalid("rule for '" + r.prefix + "': set max_bytes");
            return Status();
          }),
      Leaf{"auth.mode", Kind::kString, 0, 0,
           [c](const json& v) {
             std::string s = v.get<std::string>();
             if (s == "htpasswd") c->auth.mode = AuthMode::kHtpasswd;
             else if (s == "none" || s.empty()) c->auth.mode = AuthMode::kNone;
             else return Invalid("'" + s + "' is not supported (use htpasswd or none)");
             return Status();
           }},
      StringLeaf("auth.htpasswd.path", &c->auth.htpasswd_path),
      StringLeaf("auth.htpasswd.realm", &c->auth.realm),
      BoolLeaf("auth.anonymous_pull", &c->auth.anonymous_pull),
      Leaf{"auth.default_access", Kind::kString, 0, 0,
           [c](const json& v) {
             std::string s = v.get<std::string>();
             if (s != "none" && s != "read" && s != "write")
               return Invalid("'" + s + "' is not one of none, read, write");
             c->auth.default_access = s;
             return Status();
           }},
      Leaf{"auth.rules", Kind::kJson, 0, 0,
           [c](const json& v) {
             if (!v.is_array()) return Invalid("expected an array of {user, prefix, access}");
             std::vector<AuthRuleConfig> rules;
             for (const json& r : v) {
               if (!r.is_object()) return Invalid("each rule must be an object");
               AuthRuleConfig rc;
               for (auto it = r.begin(); it != r.end(); ++it) {
                 if (!it.value().is_string())
                   return Invalid("rule field '" + it.key() + "' must be a string");
                 if (it.key() == "user") rc.user = it.value().get<std::string>();
                 else if (it.key() == "prefix") rc.prefix = it.value().get<std::string>();
                 else if (it.key() == "access") rc.access = it.value().get<std::string>();
                 else return Invalid("unknown rule field '" + it.key() + "'");
               }
               if (rc.user.empty()) return Invalid("a rule needs a user (or \"*\")");
               if (rc.access != "none" && rc.access != "read" && rc.access != "write")
                 return Invalid("rule access must be none, read or write");
               rules.push_back(rc);
             }
             c->auth.rules = std::move(rules);
             return Status();
           }},
      BoolLeaf("auth.token.enabled", &c->auth.token_enabled),
      StringLeaf("auth.token.realm", &c->auth.token_realm),
      StringLeaf("auth.token.service", &c->auth.token_service),
      UintLeaf("auth.token.ttl_seconds", &c->auth.token_ttl_seconds, 30, 86400),
      UintLeaf("auth.token.refresh_ttl_seconds", &c->auth.token_refresh_ttl_seconds, 0, 3650 * 86400),
      StringLeaf("auth.token.key_file", &c->auth.token_key_file),
      BoolLeaf("health.storage.enabled", &c->health.storage_enabled),
      DurationLeaf("health.storage.interval", &c->health.storage_interval_seconds, 1),
      UintLeaf("health.storage.threshold", &c->health.storage_threshold, 1, 1000),
      BoolLeaf("proxy.enabled", &c->proxy.enabled),
      StringLeaf("proxy.remoteurl", &c->proxy.remote_url),
      StringLeaf("proxy.username", &c->proxy.username),
      StringLeaf("proxy.password", &c->proxy.password),
      StringLeaf("proxy.default_registry", &c->proxy.default_registry),
      Leaf{"proxy.registries", Kind::kJson, 0, 0,
           [c](const json& v) {
             if (!v.is_object()) return Invalid("expected {\"<registry>\": {\"mirrors\": [...]}}");
             std::map<std::string, UpstreamRegistryConfig> regs;
             for (auto it = v.begin(); it != v.end(); ++it) {
               const json& r = it.value();
               if (!r.is_object()) return Invalid(it.key() + ": expected an object");
               UpstreamRegistryConfig u;
               for (auto f = r.begin(); f != r.end(); ++f) {
                 if (f.key() == "mirrors") {
                   if (!f.value().is_array()) return Invalid(it.key() + ".mirrors: expected an array");
                   for (const json& m : f.value()) {
                     MirrorConfig mc;
                     if (m.is_string()) {
                       mc.url = m.get<std::string>();
                     } else if (m.is_object()) {
                       for (auto k = m.begin(); k != m.end(); ++k) {
                         if (!k.value().is_string())
                           return Invalid(it.key() + ".mirrors." + k.key() + ": expected a string");
                         if (k.key() == "url") mc.url = k.value().get<std::string>();
                         else if (k.key() == "username") mc.username = k.value().get<std::string>();
                         else if (k.key() == "password") mc.password = k.value().get<std::string>();
                         else return Invalid(it.key() + ".mirrors." + k.key() + ": unknown key");
                       }
                     } else {
                       return Invalid(it.key() + ".mirrors: expected URLs or {\"url\", \"username\", \"password\"}");
                     }
                     u.mirrors.push_back(std::move(mc));
                   }
                 } else if (f.key() == "allow") {
                   if (!IsStringList(f.value()))
                     return Invalid(it.key() + ".allow: expected a list of repository prefixes");
                   for (const json& p : f.value()) u.allow.push_back(RepoPrefix(p.get<std::string>()));
                 } else if (f.key() == "username" || f.key() == "password" || f.key() == "ca_file") {
                   if (!f.value().is_string()) return Invalid(it.key() + "." + f.key() + ": expected a string");
                   (f.key() == "username" ? u.username : f.key() == "password" ? u.password : u.ca_file) =
                       f.value().get<std::string>();
                 } else {
                   return Invalid(it.key() + "." + f.key() + ": unknown key");
                 }
               }
               regs[it.key()] = u;
             }
             c->proxy.registries = std::move(regs);
             return Status();
           }},
      BoolLeaf("proxy.allow_unknown_registries", &c->proxy.allow_unknown_registries),
      BoolLeaf("proxy.read_only", &c->proxy.read_only),
      Leaf{"proxy.tags_list", Kind::kString, 0, 0,
           [c](const json& v) {
             std::string s = v.get<std::string>();
             if (s != "merge" && s != "local") return Invalid("'" + s + "' is not one of merge, local");
             c->proxy.tags_list = s;
             return Status();
           }},
      UintLeaf("proxy.manifest_ttl_seconds", &c->proxy.manifest_ttl_seconds, 0, 86400 * 30),
      UintLeaf("proxy.negative_ttl_seconds", &c->proxy.negative_ttl_seconds, 0, 86400),
      SizeLeaf("proxy.cache_max_bytes", &c->proxy.cache_max_bytes),
      DurationLeaf("proxy.cache_max_idle", &c->proxy.cache_max_idle_seconds),
      UintLeaf("proxy.connect_timeout_seconds", &c->proxy.connect_timeout_seconds, 1, 600),
      UintLeaf("proxy.first_byte_timeout_seconds", &c->proxy.first_byte_timeout_seconds, 1, 3600),
      UintLeaf("proxy.stall_timeout_seconds", &c->proxy.stall_timeout_seconds, 1, 3600),
      UintLeaf("proxy.unhealthy_seconds", &c->proxy.unhealthy_seconds, 0, 86400),
      UintLeaf("proxy.fetch_threads", &c->proxy.fetch_threads, 1, 256),
      StringLeaf("proxy.http_proxy", &c->proxy.http_proxy),
      StringLeaf("proxy.https_proxy", &c->proxy.https_proxy),
      StringLeaf("proxy.no_proxy", &c->proxy.no_proxy),
      Leaf{"notifications.endpoints", Kind::kJson, 0, 0,
           [c](const json& v) { return ParseNotifyEndpoints(v, &c->notify_endpoints); }},
  };
}

// Environment names that users of the reference registry already know.
const std::pair<const char*, const char*> kRegistryEnv[] = {
    {"REGISTRY_LOG_LEVEL", "log.level"},
    {"REGISTRY_HTTP_ADDR", "http.addr"},
    {"REGISTRY_HTTP_TLS_CERTIFICATE", "http.tls.certificate"},
    {"REGISTRY_HTTP_TLS_KEY", "http.tls.key"},
    {"REGISTRY_HTTP_TLS_CLIENTCAS", "http.tls.client_cas"},
    {"REGISTRY_HTTP_TLS_MINIMUMTLS", "http.tls.minimum_version"},
    {"REGISTRY_AUTH", "auth.mode"},
    {"REGISTRY_AUTH_HTPASSWD_PATH", "auth.htpasswd.path"},
    {"REGISTRY_AUTH_HTPASSWD_REALM", "auth.htpasswd.realm"},
    {"REGISTRY_STORAGE_DELETE_ENABLED", "storage.delete_enabled"},
    {"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", "storage.root"},
    {"REGISTRY_STORAGE_MAINTENANCE_READONLY", "storage.read_only"},
    {"REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED", "storage.read_only"},
    {"REGISTRY_HEALTH_STORAGEDRIVER_ENABLED", "health.storage.enabled"},
    {"REGISTRY_HEALTH_STORAGEDRIVER_INTERVAL", "health.storage.interval"},
    {"REGISTRY_HEALTH_STORAGEDRIVER_THRESHOLD", "health.storage.threshold"},
    {"REGISTRY_PROXY_REMOTEURL", "proxy.remoteurl"},
    {"REGISTRY_PROXY_USERNAME", "proxy.username"},
    {"REGISTRY_PROXY_PASSWORD", "proxy.password"},
    // The reference registry expires cached content this long after it was
    // fetched; Wharf after it was last pulled, which never drops what is in use.
    {"REGISTRY_PROXY_TTL", "proxy.cache_max_idle"},
    {"REGISTRY_NOTIFICATIONS_ENDPOINTS", "notifications.endpoints"},
    // The forward proxy, as curl and Go programs read it (upper case wins).
    {"http_proxy", "proxy.http_proxy"},
    {"https_proxy", "proxy.https_proxy"},
    {"no_proxy", "proxy.no_proxy"},
    {"HTTP_PROXY", "proxy.http_proxy"},
    {"HTTPS_PROXY", "proxy.https_proxy"},
    {"NO_PROXY", "proxy.no_proxy"},
    // Short WHARF_* aliases for the most common settings.
    {"WHARF_WORKERS", "http.workers"},
    {"WHARF_STORAGE_ROOT", "storage.root"},
    {"WHARF_PROXY_MAX_BYTES", "proxy.cache_max_bytes"},
};

// WHARF_HTTP_LIMITS_MAX_CONNECTIONS for "http.limits.max_connections".
std::string EnvNameFor(std::string_view path) {
  std::string s = "WHARF_";
  for (char ch : path) s += ch == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kString: return "a string";
    case Kind::kUint: return "a non-negative integer";
    case Kind::kBool: return "true or false";
    case Kind::kJson: return "JSON";
  }
  return "";
}

Status SetLeaf(const Leaf& leaf, const json& v, const std::string& where) {
  bool ok = leaf.kind == Kind::kJson || (leaf.kind == Kind::kString && v.is_string()) ||
            (leaf.kind == Kind::kBool && v.is_boolean()) ||
            (leaf.kind == Kind::kUint && v.is_number_unsigned());
  if (leaf.kind == Kind::kUint && v.is_number_integer() && !v.is_number_unsigned())
    return Invalid(where + ": must not be negative");
  if (!ok) return Invalid(where + ": expected " + KindName(leaf.kind));
  if (leaf.kind == Kind::kUint) {
    uint64_t n = v.get<uint64_t>();
    if (n < leaf.min || n > leaf.max)
      return Invalid(where + ": " + std::to_string(n) + " is outside " + std::to_string(leaf.min) +
                     ".." + std::to_string(leaf.max));
  }
  Status st = leaf.set(v);
  if (!st.ok()) return Invalid(where + ": " + st.message());
  return Status();
}

Status Walk(const json& obj, const std::string& prefix, const std::vector<Leaf>& leaves,
            std::string_view origin) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    std::string path = prefix.empty() ? it.key() : prefix + "." + it.key();
    auto leaf = std::find_if(leaves.begin(), leaves.end(),
                             [&](const Leaf& l) { return path == l.path; });
    if (leaf != leaves.end()) {
      WHARF_RETURN_IF_ERROR(SetLeaf(*leaf, it.value(), std::string(origin) + ": " + path));
      continue;
    }
    bool is_section = std::any_of(leaves.begin(), leaves.end(), [&](const Leaf& l) {
      std::string_view p(l.path);
      return p.size() > path.size() && p.substr(0, path.size()) == path && p[path.size()] == '.';
    });
    if (!is_section) return Invalid(std::string(origin) + ": " + path + ": unknown key");
    if (!it.value().is_object())
      return Invalid(std::string(origin) + ": " + path + ": expected an object");
    WHARF_RETURN_IF_ERROR(Walk(it.value(), path, leaves, origin));
  }
  return Status();
}

Status ParseHostPort(const std::string& addr, std::string* host, uint16_t* port) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos) return Invalid("'" + addr + "' is not host:port");
  std::string h = addr.substr(0, colon);
  std::string p = addr.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty()) h = "0.0.0.0";  // ":5000", the reference registry's form
  unsigned v = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
  if (p.empty() || ec != std::errc() || ptr != p.data() + p.size() || v > 65535)
    return Invalid("'" + p + "' is not a port number");
  *host = h;
  *port = static_cast<uint16_t>(v);
  return Status();
}

Status Readable(const std::string& path, const char* key) {
  if (access(path.c_str(), R_OK) != 0)
    return Invalid(std::string(key) + ": cannot read '" + path + "': " + strerror(errno));
  return Status();
}

}  // namespace

Result<uint64_t> ParseSize(std::string_view s) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p == s.data()) return Invalid("'" + std::string(s) + "' is not a size");
  std::string unit(p, s.data() + s.size());
  while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  for (char& ch : unit) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  static const std::pair<const char*, uint64_t> kUnits[] = {
      {"", 1}, {"b", 1}, {"k", 1000}, {"kb", 1000}, {"kib", 1ull << 10}, {"m", 1000000},
      {"mb", 1000000}, {"mib", 1ull << 20}, {"g", 1000000000}, {"gb", 1000000000},
      {"gib", 1ull << 30}, {"t", 1000000000000ull}, {"tb", 1000000000000ull}, {"tib", 1ull << 40}};
  for (auto& [name, mult] : kUnits) {
    if (unit != name) continue;
    if (n > UINT64_MAX / mult) return Invalid("'" + std::string(s) + "' is too large");
    return n * mult;
  }
  return Invalid("'" + std::string(s) + "' has an unknown unit (use B, KB, KiB, MB, MiB, GB, GiB, TB, TiB)");
}

Result<uint64_t> ParseDurationMs(std::string_view s) {
  const std::string text(s);
  auto bad = [&] { return Invalid("'" + text + "' is not a duration (use e.g. 168h, 7d, 1h30m, 90s, 500ms)"); };
  if (s.empty()) return bad();
  uint64_t n = 0;
  if (auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
      ec == std::errc() && p == s.data() + s.size()) {
    if (n > UINT64_MAX / 1000) return Invalid("'" + text + "' is too long");
    return n * 1000;  // plain seconds
  }
  uint64_t total = 0;
  while (!s.empty()) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || p == s.data() || p == s.data() + s.size()) return bad();
    s.remove_prefix(static_cast<size_t>(p - s.data()));
    uint64_t unit = 0;
    if (s.starts_with("ms")) {
      unit = 1;
      s.remove_prefix(1);
    } else {
      switch (s.front()) {
        case 'd': unit = 86'400'000; break;
        case 'h': unit = 3'600'000; break;
        case 'm': unit = 60'000; break;
        case 's': unit = 1000; break;
        default: return bad();
      }
    }
    s.remove_prefix(1);
    if (n > (UINT64_MAX - total) / unit) return Invalid("'" + text + "' is too long");
    total += n * unit;
  }
  return total;
}

Result<uint64_t> DurationMs(const nlohmann::json& v) {
  if (v.is_number_unsigned()) {
    if (v.get<uint64_t>() > UINT64_MAX / 1000) return Invalid("too long a duration");
    return v.get<uint64_t>() * 1000;
  }
  if (!v.is_string()) return Invalid("expected a duration such as 168h or 500ms");
  return ParseDurationMs(v.get<std::string>());
}

bool ParseBool(std::string_view s, bool* out) {
  std::string l;
  for (char ch : s) l += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (l == "true" || l == "yes" || l == "1" || l == "on") return *out = true, true;
  if (l == "false" || l == "no" || l == "0" || l == "off") return *out = false, true;
  return false;
}

Status ApplyJson(std::string_view text, std::string_view origin, Config* cfg) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/true);
  if (doc.is_discarded()) {
    // Parse again with exceptions to get the position; the exception stays here.
    try {
      json ignored = json::parse(text, nullptr, true, true);
      (void)ignored;
    } catch (const json::exception& e) {  // parse_error, or out_of_range for 1e999
      return Invalid(std::string(origin) + ": invalid JSON: " + e.what());
    }
    return Invalid(std::string(origin) + ": invalid JSON");
  }
  if (!doc.is_object()) return Invalid(std::string(origin) + ": the top level must be an object");
  return Walk(doc, "", Leaves(cfg), origin);
}

Status ApplyFile(const std::string& path, Config* cfg) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Invalid("--config: cannot read '" + path + "': " + strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  if (!IsYamlPath(path)) return ApplyJson(ss.str(), path, cfg);
  auto yaml = RegistryYamlVars(ss.str(), path);
  if (!yaml.ok()) return yaml.status();
  const size_t before = cfg->ignored_env.size();
  Status st = ApplyEnv(yaml->vars, cfg);
  if (!st.ok()) return Invalid(path + ": " + yaml->InKeyTerms(st.message()));
  for (size_t i = before; i < cfg->ignored_env.size(); ++i)
    cfg->ignored_env[i] = path + ": " + yaml->InKeyTerms(cfg->ignored_env[i]);
  return Status();
}

Status ApplyEnv(const std::map<std::string, std::string>& env, Config* cfg) {
  std::vector<Leaf> leaves = Leaves(cfg);
  auto apply = [&](const std::string& var, const std::string& path, const std::string& value) {
    auto leaf = std::find_if(leaves.begin(), leaves.end(),
                             [&](const Leaf& l) { return path == l.path; });
    if (leaf == leaves.end()) return Internal("no config key " + path);
    json v;
    switch (leaf->kind) {
      case Kind::kString: v = value; break;
      case Kind::kJson:
        v = json::parse(value, nullptr, false);
        if (v.is_discarded()) v = value;  // a plain string (e.g. a size like 200GiB)
        break;
      case Kind::kBool: {
        bool b;
        if (!ParseBool(value, &b))
          return Invalid(var + ": '" + value + "' is not a boolean (true/false/yes/no/1/0)");
        v = b;
        break;
      }
      case Kind::kUint: {
        uint64_t n = 0;
        auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (value.empty() || ec != std::errc() || p != value.data() + value.size())
          return Invalid(var + ": '" + value + "' is not a non-negative integer");
        v = n;
        break;
      }
    }
    return SetLeaf(*leaf, v, var);
  };
  // Generic names first, so the well-known REGISTRY_* spellings win.
  for (const Leaf& l : Leaves(cfg)) {
    auto it = env.find(EnvNameFor(l.path));
    if (it != env.end()) WHARF_RETURN_IF_ERROR(apply(it->first, l.path, it->second));
  }
  for (auto& [var, path] : kRegistryEnv) {
    auto it = env.find(var);
    if (it != env.end()) WHARF_RETURN_IF_ERROR(apply(var, path, it->second));
  }
  // The reference registry's switch for its access log (log.accesslog.disabled).
  constexpr std::string_view kAccessLogOff = "REGISTRY_LOG_ACCESSLOG_DISABLED";
  if (auto it = env.find(std::string(kAccessLogOff)); it != env.end()) {
    bool off = false;
    if (!ParseBool(it->second, &off))
      return Invalid(it->first + ": '" + it->second + "' is not a boolean (true/false/yes/no/1/0)");
    if (off) cfg->http.access_log = AccessLogFormat::kOff;
  }
  // REGISTRY_HTTP_HEADERS_<Name>: one response header, as in the reference
  // registry (compose files and Kubernetes allow the '-' in such names).
  constexpr std::string_view kHeaderVar = "REGISTRY_HTTP_HEADERS_";
  for (const auto& [var, value] : env) {
    if (var.rfind(kHeaderVar, 0) != 0) continue;
    const std::string name = var.substr(kHeaderVar.size());
    auto& hs = cfg->http.headers;
    hs.erase(std::remove_if(hs.begin(), hs.end(),
                            [&](const auto& h) { return AsciiLower(h.first) == AsciiLower(name); }),
             hs.end());
    Status st = AddHeaderValues(name, FlowList(value), &hs);
    if (!st.ok()) return Invalid(var + ": " + st.message());
  }
  for (const auto& kv : env) {
    const std::string& var = kv.first;  // a named variable: clang 14 cannot capture bindings
    const bool named = std::any_of(std::begin(kRegistryEnv), std::end(kRegistryEnv),
                                   [&](auto& p) { return var == p.first; });
    if (var.rfind("REGISTRY_", 0) == 0 && !named && var.rfind(kHeaderVar, 0) != 0 && var != kAccessLogOff) {
      RegistryEnvVerdict v = JudgeRegistryEnv(var, kv.second);
      if (v.kind == RegistryEnvVerdict::kRefused) return Invalid(v.message);
      if (v.kind == RegistryEnvVerdict::kIgnored) cfg->ignored_env.push_back(v.message);
    }
    if (var.rfind("WHARF_", 0) != 0) continue;
    bool known = named || std::any_of(leaves.begin(), leaves.end(),
                                      [&](const Leaf& l) { return var == EnvNameFor(l.path); });
    if (!known) return Invalid(var + ": unknown WHARF_* variable");
  }
  return Status();
}

std::map<std::string, std::string> ProcessEnv() {
  std::map<std::string, std::string> m;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view k = kv.substr(0, eq);
    bool named = std::any_of(std::begin(kRegistryEnv), std::end(kRegistryEnv),
                             [&](auto& p) { return k == p.first; });
    if (named || k.rfind("REGISTRY_", 0) == 0 || k.rfind("WHARF_", 0) == 0)
      m.emplace(std::string(k), std::string(kv.substr(eq + 1)));
  }
  return m;
}

Status Validate(Config* cfg) {
  Status st = ParseHostPort(cfg->http.addr, &cfg->http.host, &cfg->http.port);
  if (!st.ok()) return Invalid("http.addr: " + st.message());
  auto& tls = cfg->http;
  if (tls.tls_certificate.empty() != tls.tls_key.empty())
    return Invalid(tls.tls_certificate.empty() ? "http.tls.certificate: required when http.tls.key is set"
                                               : "http.tls.key: required when http.tls.certificate is set");
  if (!tls.tls_certificate.empty()) {
    WHARF_RETURN_IF_ERROR(Readable(tls.tls_certificate, "http.tls.certificate"));
    WHARF_RETURN_IF_ERROR(Readable(tls.tls_key, "http.tls.key"));
  }
  if (!tls.tls_client_cas.empty() && tls.tls_certificate.empty())
    return Invalid("http.tls.client_cas: only used with TLS (set http.tls.certificate and key)");
  for (const std::string& ca : tls.tls_client_cas) WHARF_RETURN_IF_ERROR(Readable(ca, "http.tls.client_cas"));
  if (!tls.plain_addr.empty()) {
    if (tls.tls_certificate.empty())
      return Invalid("http.plain_addr: only used with TLS (set http.tls.certificate and key)");
    st = ParseHostPort(tls.plain_addr, &tls.plain_host, &tls.plain_port);
    if (!st.ok()) return Invalid("http.plain_addr: " + st.message());
  }
  if (cfg->auth.token_enabled && cfg->auth.mode != AuthMode::kHtpasswd)
    return Invalid("auth.token.enabled: needs auth.mode htpasswd");
  if (cfg->auth.mode == AuthMode::kHtpasswd) {
    if (cfg->auth.htpasswd_path.empty())
      return Invalid("auth.htpasswd.path: required when auth.mode is htpasswd");
    WHARF_RETURN_IF_ERROR(Readable(cfg->auth.htpasswd_path, "auth.htpasswd.path"));
  }
  if (cfg->storage.root.empty()) return Invalid("storage.root: must not be empty");
  auto url_ok = [](const std::string& u) {
    return u.rfind("http://", 0) == 0 || u.rfind("https://", 0) == 0;
  };
  ProxyConfig& p = cfg->proxy;
  if (!p.remote_url.empty() && !url_ok(p.remote_url))
    return Invalid("proxy.remoteurl: '" + p.remote_url + "' must start with http:// or https://");
  if (p.registries.empty())
    p.registries["docker.io"] = UpstreamRegistryConfig{{MirrorConfig{"https://registry-1.docker.io", "", ""}}, "", "", "", {}};
  if (!p.remote_url.empty()) {
    // The reference registry's single upstream replaces the default registry's mirrors.
    UpstreamRegistryConfig& d = p.registries[p.default_registry];
    d.mirrors = {MirrorConfig{p.remote_url, "", ""}};
    if (!p.username.empty()) {
      d.username = p.username;
      d.password = p.password;
    }
  }
  for (const auto& [name, r] : p.registries) {
    if (r.mirrors.empty()) return Invalid("proxy.registries." + name + ".mirrors: must not be empty");
    for (const auto& m : r.mirrors)
      if (!url_ok(m.url))
        return Invalid("proxy.registries." + name + ".mirrors: '" + m.url + "' must start with http:// or https://");
    if (!r.ca_file.empty()) WHARF_RETURN_IF_ERROR(Readable(r.ca_file, ("proxy.registries." + name + ".ca_file").c_str()));
  }
  for (const NotifyEndpointConfig& e : cfg->notify_endpoints)
    if (!e.ca_file.empty())
      WHARF_RETURN_IF_ERROR(Readable(e.ca_file, ("notifications.endpoints." + e.name + ".ca_file").c_str()));
  if (!p.registries.count(p.default_registry))
    return Invalid("proxy.default_registry: '" + p.default_registry + "' is not in proxy.registries");
  auto egress_ok = [](const char* key, const Result<proxy::Egress>& e) {
    return e.ok() ? Status() : Invalid(std::string(key) + ": " + e.status().message());
  };
  WHARF_RETURN_IF_ERROR(egress_ok("proxy.http_proxy (or HTTP_PROXY)", proxy::Egress::Make(p.http_proxy, "", "")));
  WHARF_RETURN_IF_ERROR(egress_ok("proxy.https_proxy (or HTTPS_PROXY)", proxy::Egress::Make("", p.https_proxy, "")));
  WHARF_RETURN_IF_ERROR(egress_ok("proxy.no_proxy (or NO_PROXY)", proxy::Egress::Make("", "", p.no_proxy)));
  return Status();
}

Result<Config> Load(const std::string& path, const std::map<std::string, std::string>& env) {
  Config cfg;
  if (!path.empty()) WHARF_RETURN_IF_ERROR(ApplyFile(path, &cfg));
  WHARF_RETURN_IF_ERROR(ApplyEnv(env, &cfg));
  WHARF_RETURN_IF_ERROR(Validate(&cfg));
  return cfg;
}

std::string Describe(const Config& c) {
  const auto& l = c.http.limits;
  auto mask = [](const std::string& s) { return s.empty() ? s : std::string("********"); };
  json endpoints = json::array();
  for (const NotifyEndpointConfig& e : c.notify_endpoints) {
    json headers = json::object();
    for (const auto& [k, v] : e.headers) headers[k].push_back(mask(v));
    endpoints.push_back({{"name", e.name}, {"url", e.url}, {"headers", headers},
                         {"timeout", std::to_string(e.timeout_ms) + "ms"}, {"threshold", e.threshold},
                         {"backoff", std::to_string(e.backoff_ms) + "ms"},
                         {"ignoredmediatypes", e.ignored_media_types},
                         {"ignore", {{"actions", e.ignored_actions}}}, {"ca_file", e.ca_file}});
  }
  // "http://user:secret@proxy:3128" -> "http://********@proxy:3128"
  auto mask_userinfo = [](const std::string& url) {
    size_t start = url.find("://");
    start = start == std::string::npos ? 0 : start + 3;
    size_t at = url.rfind('@');
    return at == std::string::npos || at < start ? url : url.substr(0, start) + "********" + url.substr(at);
  };
  const char* fmt = c.http.access_log == AccessLogFormat::kText   ? "text"
                    : c.http.access_log == AccessLogFormat::kJson ? "json"
                                                                  : "off";
  json regs = json::object();
  for (const auto& [name, r] : c.proxy.registries) {
    json mirrors = json::array();
    for (const auto& m : r.mirrors)
      mirrors.push_back(m.username.empty() ? json(m.url)
                                           : json{{"url", m.url}, {"username", m.username}, {"password", mask(m.password)}});
    regs[name] = {{"mirrors", mirrors},
                  {"username", r.username},
                  {"password", mask(r.password)},
                  {"ca_file", r.ca_file},
                  {"allow", r.allow}};
  }
  json headers = json::object();
  for (const auto& [name, value] : c.http.headers) headers[name].push_back(value);
  json rules = json::array();
  for (const auto& r : c.auth.rules)
    rules.push_back({{"user", r.user}, {"prefix", r.prefix}, {"access", r.access}});
  json retention = json::array();
  for (const auto& r : c.storage.retention)
    retention.push_back({{"prefix", r.prefix}, {"keep_last", r.keep_last}, {"keep_days", r.keep_days},
                         {"keep_tags", r.keep_tags}});
  json immutable = json::array();
  for (const auto& r : c.storage.immutable_tags) immutable.push_back({{"prefix", r.prefix}, {"tags", r.tags}});
  json quotas = json::array();
  for (const auto& r : c.storage.quotas) quotas.push_back({{"prefix", r.prefix}, {"max_bytes", r.max_bytes}});
  json j = {
      {"log", {{"level", c.log_level}}},
      {"http",
       {{"addr", c.http.addr},
        {"workers", c.http.workers},
        {"tls", {{"certificate", c.http.tls_certificate}, {"key", c.http.tls_key},
                 {"client_cas", c.http.tls_client_cas},
                 {"minimum_version", c.http.tls13_only ? "tls1.3" : "tls1.2"}}},
        {"trusted_proxies", c.http.trusted_proxies},
        {"plain_addr", c.http.plain_addr},
        {"access_log", fmt},
        {"shutdown_grace_seconds", c.http.shutdown_grace_seconds},
        {"headers", headers},
        {"limits",
         {{"max_header_bytes", l.max_header_bytes},
          {"max_headers", l.max_headers},
          {"max_request_line", l.max_request_line},
          {"max_manifest_bytes", l.max_manifest_bytes},
          {"max_blob_bytes", l.max_blob_bytes},
          {"header_timeout_seconds", l.header_timeout_seconds},
          {"idle_timeout_seconds", l.idle_timeout_seconds},
          {"max_connections", l.max_connections}}}}},
      {"storage",
       {{"root", c.storage.root},
        {"delete_enabled", c.storage.delete_enabled},
        {"read_only", c.storage.read_only},
        {"upload_expiry_minutes", c.storage.upload_expiry_minutes},
        {"gc_grace_minutes", c.storage.gc_grace_minutes},
        {"gc_interval_seconds", c.storage.gc_interval_seconds},
        {"gc_delete_untagged", c.storage.gc_delete_untagged},
        {"retention", retention},
        {"immutable_tags", immutable},
        {"quotas", quotas}}},
      {"health",
       {{"storage",
         {{"enabled", c.health.storage_enabled},
          {"interval", std::to_string(c.health.storage_interval_seconds) + "s"},
          {"threshold", c.health.storage_threshold}}}}},
      {"auth",
       {{"mode", c.auth.mode == AuthMode::kHtpasswd ? "htpasswd" : "none"},
        {"htpasswd", {{"path", c.auth.htpasswd_path}, {"realm", c.auth.realm}}},
        {"anonymous_pull", c.auth.anonymous_pull},
        {"default_access", c.auth.default_access},
        {"rules", rules},
        {"token",
         {{"enabled", c.auth.token_enabled},
          {"realm", c.auth.token_realm},
          {"service", c.auth.token_service},
          {"ttl_seconds", c.auth.token_ttl_seconds},
          {"refresh_ttl_seconds", c.auth.token_refresh_ttl_seconds},
          {"key_file", c.auth.token_key_file}}}}},
      {"proxy",
       {{"enabled", c.proxy.enabled},
        {"remoteurl", c.proxy.remote_url},
        {"username", c.proxy.username},
        {"password", mask(c.proxy.password)},
        {"default_registry", c.proxy.default_registry},
        {"registries", regs},
        {"allow_unknown_registries", c.proxy.allow_unknown_registries},
        {"read_only", c.proxy.read_only},
        {"tags_list", c.proxy.tags_list},
        {"manifest_ttl_seconds", c.proxy.manifest_ttl_seconds},
        {"negative_ttl_seconds", c.proxy.negative_ttl_seconds},
        {"cache_max_bytes", c.proxy.cache_max_bytes},
        {"cache_max_idle", std::to_string(c.proxy.cache_max_idle_seconds) + "s"},
        {"connect_timeout_seconds", c.proxy.connect_timeout_seconds},
        {"first_byte_timeout_seconds", c.proxy.first_byte_timeout_seconds},
        {"stall_timeout_seconds", c.proxy.stall_timeout_seconds},
        {"unhealthy_seconds", c.proxy.unhealthy_seconds},
        {"fetch_threads", c.proxy.fetch_threads},
        {"http_proxy", mask_userinfo(c.proxy.http_proxy)},
        {"https_proxy", mask_userinfo(c.proxy.https_proxy)},
        {"no_proxy", c.proxy.no_proxy}}},
      {"notifications", {{"endpoints", endpoints}}},
  };
  return JsonText(j, 2);
}

}  // namespace wharf
