// Wharf's configuration: one plain struct, filled from embedded defaults, then
// an optional JSON file (comments allowed), then environment variables.
//
// Precedence: defaults < file < environment. Loading never throws; every
// problem comes back as a Status whose message is one line that names the key
// (or environment variable) and what is wrong with it.
//
// Thread-safety: a Config is a value. The server copies what it needs at
// start-up; nothing mutates a Config that another thread reads.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "util/status.h"

namespace wharf {

enum class AccessLogFormat { kText, kJson, kOff };
enum class AuthMode { kNone, kHtpasswd };

struct Limits {
  uint32_t max_header_bytes = 32 * 1024;   // request line + headers
  uint32_t max_headers = 100;
  uint32_t max_request_line = 8 * 1024;    // the URL, in bytes
  uint64_t max_manifest_bytes = 4 * 1024 * 1024;
  uint64_t max_blob_bytes = 0;             // per upload; 0 = unlimited
  uint32_t header_timeout_seconds = 20;    // first byte to end of head
  uint32_t idle_timeout_seconds = 120;     // no progress either way
  uint32_t max_connections = 10000;        // per process
};

struct HttpConfig {
  std::string addr = "0.0.0.0:5000";
  std::string host = "0.0.0.0";  // derived from addr by validation
  uint16_t port = 5000;          // derived from addr by validation
  uint32_t workers = 0;          // 0 = one per core
  std::string tls_certificate;
  std::string tls_key;
  // CA bundles for client certificates (mutual TLS); empty = none asked.
  std::vector<std::string> tls_client_cas;
  bool tls13_only = false;  // http.tls.minimum_version "tls1.3"; otherwise TLS 1.2 and 1.3
  // Reverse proxies (addresses or networks) whose X-Forwarded-For and
  // X-Forwarded-Proto/-Host are believed: a request from one of them is
  // judged by the client address it names (failed-login limits, events,
  // the access log) and gets token realms for the scheme and host it names.
  std::vector<std::string> trusted_proxies;
  // With TLS on: an extra plain-HTTP listener (e.g. 127.0.0.1:5001 for a
  // local load balancer); empty = none.
  std::string plain_addr;
  std::string plain_host;  // derived
  uint16_t plain_port = 0; // derived
  AccessLogFormat access_log = AccessLogFormat::kText;
  uint32_t shutdown_grace_seconds = 30;
  Limits limits;
  // Header lines added to every response, in order, one per value (as the
  // reference registry's http.headers): e.g. X-Content-Type-Options, or the
  // Access-Control-* headers a registry web UI needs.
  std::vector<std::pair<std::string, std::string>> headers;
};

// A tag retention rule for hosted repositories (storage.retention), applied
// at every garbage collection; see registry/retention.h.
struct RetentionRuleConfig {
  std::string prefix;                  // the repositories it governs; the longest prefix wins
  uint32_t keep_last = 0;              // the newest this many tags stay
  uint32_t keep_days = 0;              // tags pushed within this many days stay
  std::vector<std::string> keep_tags;  // tags matching one of these globs (* and ?) stay
};

// Tags that, once pushed, stay where they point (storage.immutable_tags);
// see registry/immutable_tags.h.
struct ImmutableTagRule {
  std::string prefix;             // the repositories it governs; the longest prefix wins
  std::vector<std::string> tags;  // globs (* and ?) of the tags that cannot move or go
};

// A storage quota for pushed content (storage.quotas); see registry/quota.h.
struct QuotaRule {
  std::string prefix;      // the repositories it governs; the longest prefix wins
  uint64_t max_bytes = 0;  // what they may hold together
};

struct StorageConfig {
  std::string root = "./data";
  bool delete_enabled = false;
  // Refuse every push and delete (405 UNSUPPORTED) while serving pulls, as
  // the reference registry's storage.maintenance.readonly: e.g. while the
  // data directory is copied to another host.
  bool read_only = false;
  uint32_t upload_expiry_minutes = 24 * 60;
  uint32_t gc_grace_minutes = 60;
  // Garbage collection while serving, every this many seconds (0: only when
  // asked with `wharf gc`); with gc_delete_untagged it first removes
  // manifests that no tag, index or subject keeps alive.
  uint32_t gc_interval_seconds = 0;
  bool gc_delete_untagged = false;
  std::vector<RetentionRuleConfig> retention;
  std::vector<ImmutableTagRule> immutable_tags;
  std::vector<QuotaRule> quotas;
};

// The storage probe behind /healthz (see registry/storage_health.h), as the
// reference registry's health.storagedriver.
struct HealthConfig {
  bool storage_enabled = true;
  uint64_t storage_interval_seconds = 10;
  uint32_t storage_threshold = 3;  // failed probes in a row before 503
};

struct AuthRuleConfig {
  std::string user;    // a user name or "*"
  std::string prefix;  // repository prefix; "" = all
  std::string access;  // none | read | write
};

struct AuthConfig {
  AuthMode mode = AuthMode::kNone;
  std::string htpasswd_path;
  std::string realm = "Registry Realm";
  bool anonymous_pull = false;          // anonymous clients may pull
  std::string default_access = "write"; // authenticated users without a rule
  std::vector<AuthRuleConfig> rules;
  bool token_enabled = false;           // challenge with Bearer, serve /auth/token
  std::string token_realm;              // default: <scheme>://<Host>/auth/token
  std::string token_service = "wharf";
  uint32_t token_ttl_seconds = 300;
  // Refresh tokens (what `docker login` stores instead of the password);
  // 0: none are issued.
  uint32_t token_refresh_ttl_seconds = 90 * 86400;
  // The tokens' signing key; default <storage root>/token.key, made at the
  // first start. Instances that share it accept each other's tokens.
  std::string token_key_file;
};

// One mirror of an upstream registry: its base URL and, optionally, a login
// of its own.
struct MirrorConfig {
  std::string url;
  std::string username, password;
};

struct UpstreamRegistryConfig {
  std::vector<MirrorConfig> mirrors;  // tried in order
  // The registry's own login. It goes to the mirrors on the registry's own
  // hosts (Docker Hub's for docker.io), or to the only mirror, never to a
  // third-party mirror in a list (see ProxyService).
  std::string username, password;
  std::string ca_file;                // extra CA bundle for these mirrors
  // Repository prefixes (as the registry names them: "library", "bitnami")
  // that may be pulled through; empty: every repository.
  std::vector<std::string> allow;
};

struct ProxyConfig {
  // Pull-through for docker.io is on by default. remote_url (with username
  // and password) replaces the mirrors of the default registry, as
  // REGISTRY_PROXY_REMOTEURL does in the reference registry.
  bool enabled = true;
  std::string remote_url;
  std::string username;
  std::string password;
  std::string default_registry = "docker.io";
  // Registry name -> mirrors. Defaults to docker.io -> registry-1.docker.io.
  std::map<std::string, UpstreamRegistryConfig> registries;
  bool allow_unknown_registries = false;  // ?ns=<host> for hosts not listed
  bool read_only = false;                 // refuse pushes (a pure mirror)
  std::string tags_list = "merge";        // merge (upstream + cached) | local
  uint32_t manifest_ttl_seconds = 300;
  uint32_t negative_ttl_seconds = 30;
  uint64_t cache_max_bytes = 0;           // cached blobs; 0 = no cap
  // Cached content not pulled for this long is removed; 0 = kept until the
  // cap or a full disk needs the room. Harbor's and the reference
  // registry's default: 7 days.
  uint64_t cache_max_idle_seconds = 7 * 86400;
  uint32_t connect_timeout_seconds = 10;
  uint32_t first_byte_timeout_seconds = 30;
  uint32_t stall_timeout_seconds = 60;
  uint32_t unhealthy_seconds = 30;
  uint32_t fetch_threads = 16;
  // The forward proxy for upstream connections (see proxy/egress.h);
  // HTTP_PROXY, HTTPS_PROXY and NO_PROXY set them too.
  std::string http_proxy, https_proxy, no_proxy;
};

// A webhook that receives registry events, as the reference registry's
// notifications.endpoints (see notify/notifier.h).
struct NotifyEndpointConfig {
  std::string name;
  std::string url;  // http:// or https://
  std::vector<std::pair<std::string, std::string>> headers;
  uint64_t timeout_ms = 1000;
  uint32_t threshold = 10;  // failures in a row before waiting `backoff` between tries
  uint64_t backoff_ms = 1000;
  std::vector<std::string> ignored_media_types;
  std::vector<std::string> ignored_actions;  // push, pull, mount, delete
  std::string ca_file;  // extra CA bundle for an https:// endpoint (a self-signed receiver)
};

struct Config {
  std::string log_level = "info";
  HttpConfig http;
  StorageConfig storage;
  HealthConfig health;
  AuthConfig auth;
  ProxyConfig proxy;
  std::vector<NotifyEndpointConfig> notify_endpoints;  // notifications.endpoints
  // REGISTRY_* variables that were set but change nothing here, one line
  // each with what to use instead (see registry_env.h); logged at start.
  std::vector<std::string> ignored_env;
};

// Parses JSON text (with // and /* */ comments) over `base`. Unknown keys and
// wrong types are errors. `origin` names the source in messages.
Status ApplyJson(std::string_view text, std::string_view origin, Config* cfg);

// Reads and applies a config file: Wharf's JSON, or the reference
// registry's config.yml (a .yml or .yaml name; see registry_yaml.h), whose
// keys apply as the REGISTRY_* variables they stand for. A missing or
// unreadable file is an error.
Status ApplyFile(const std::string& path, Config* cfg);

// Applies REGISTRY_* and WHARF_* variables from `env` (a name -> value map,
// normally the process environment). Errors name the variable. REGISTRY_*
// variables that Wharf does not map are judged by JudgeRegistryEnv: another
// storage driver is an error, the ones it ignores are added to
// cfg->ignored_env.
Status ApplyEnv(const std::map<std::string, std::string>& env, Config* cfg);

// Returns the process environment as a map (only the variables Wharf reads).
std::map<std::string, std::string> ProcessEnv();

// Checks cross-field rules and the filesystem (certificate and htpasswd files
// readable), and fills derived fields (http.host, http.port).
Status Validate(Config* cfg);

// Defaults, then the file (if path is not empty), then env, then Validate.
Result<Config> Load(const std::string& path, const std::map<std::string, std::string>& env);

// The effective configuration as commented-free JSON, secrets masked.
std::string Describe(const Config& cfg);

// Parses a byte count with an optional unit: "1048576", "512MiB", "200GB".
Result<uint64_t> ParseSize(std::string_view s);

// Parses a duration into milliseconds: "604800" (seconds), "168h", "7d",
// "1h30m", "90s", "500ms" (Go's units h, m, s, ms, and d for days).
// kInvalid for anything else.
Result<uint64_t> ParseDurationMs(std::string_view s);
// The same from a configuration value: a string as above, or a number of seconds.
Result<uint64_t> DurationMs(const nlohmann::json& v);

// Parses "true/false/yes/no/1/0/on/off" (any case).
bool ParseBool(std::string_view s, bool* out);

}  // namespace wharf
