#include "config/config.h"
#include "config_refusal.h"
#include "util/ip_net.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

namespace wharf {
namespace {

TEST(ConfigTest, DefaultsAreUsable) {
  auto c = Load("", {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->http.host, "0.0.0.0");
  EXPECT_EQ(c->http.port, 5000);
  EXPECT_EQ(c->storage.root, "./data");
  EXPECT_TRUE(c->proxy.enabled);
  EXPECT_FALSE(c->storage.delete_enabled);
}

TEST(ConfigTest, JsonWithComments) {
  Config c;
  Status st = ApplyJson(R"({
    // a comment
    "http": {"addr": "127.0.0.1:6000", /* inline */ "workers": 3,
             "limits": {"max_connections": 50}},
    "storage": {"root": "/srv/wharf", "delete_enabled": true}
  })", "test", &c);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_TRUE(Validate(&c).ok());
  EXPECT_EQ(c.http.port, 6000);
  EXPECT_EQ(c.http.workers, 3u);
  EXPECT_EQ(c.http.limits.max_connections, 50u);
  EXPECT_EQ(c.storage.root, "/srv/wharf");
  EXPECT_TRUE(c.storage.delete_enabled);
}

TEST(ConfigTest, UnknownKeyNamesThePath) {
  Config c;
  Status st = ApplyJson(R"({"http": {"limits": {"max_conections": 5}}})", "f.json", &c);
  EXPECT_EQ(st.message(), "f.json: http.limits.max_conections: unknown key");
}

TEST(ConfigTest, WrongTypesAndRanges) {
  Config c;
  EXPECT_EQ(ApplyJson(R"({"http": {"workers": "two"}})", "f", &c).message(),
            "f: http.workers: expected a non-negative integer");
  EXPECT_EQ(ApplyJson(R"({"http": {"workers": -1}})", "f", &c).message(),
            "f: http.workers: must not be negative");
  EXPECT_EQ(ApplyJson(R"({"storage": {"delete_enabled": "yes"}})", "f", &c).message(),
            "f: storage.delete_enabled: expected true or false");
  EXPECT_EQ(ApplyJson(R"({"http": "x"})", "f", &c).message(), "f: http: expected an object");
  EXPECT_EQ(ApplyJson(R"({"http": {"limits": {"max_headers": 2}}})", "f", &c).message(),
            "f: http.limits.max_headers: 2 is outside 8..1000");
  EXPECT_EQ(ApplyJson(R"({"http": {"access_log": "xml"}})", "f", &c).message(),
            "f: http.access_log: 'xml' is not one of text, json, off");
  EXPECT_NE(ApplyJson("{ bad json", "f", &c).message().find("f: invalid JSON"), std::string::npos);
  EXPECT_EQ(ApplyJson("[]", "f", &c).message(), "f: the top level must be an object");
}

TEST(ConfigTest, RegistryEnvOverrides) {
  Config c;
  std::map<std::string, std::string> env = {
      {"REGISTRY_HTTP_ADDR", ":5001"},
      {"REGISTRY_STORAGE_DELETE_ENABLED", "yes"},
      {"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", "/var/lib/registry"},
      {"REGISTRY_AUTH_HTPASSWD_REALM", "Registry Realm"},
      {"REGISTRY_PROXY_REMOTEURL", "https://registry-1.docker.io"},
      {"REGISTRY_PROXY_PASSWORD", "s3cret"},
      {"REGISTRY_PROXY_TTL", "72h"},
      {"WHARF_WORKERS", "4"},
      {"WHARF_HTTP_LIMITS_IDLE_TIMEOUT_SECONDS", "9"},
  };
  ASSERT_TRUE(ApplyEnv(env, &c).ok());
  ASSERT_TRUE(Validate(&c).ok());
  EXPECT_EQ(c.http.host, "0.0.0.0");
  EXPECT_EQ(c.http.port, 5001);
  EXPECT_TRUE(c.storage.delete_enabled);
  EXPECT_EQ(c.storage.root, "/var/lib/registry");
  EXPECT_EQ(c.proxy.remote_url, "https://registry-1.docker.io");
  EXPECT_EQ(c.proxy.cache_max_idle_seconds, 72u * 3600);
  EXPECT_EQ(c.http.workers, 4u);
  EXPECT_EQ(c.http.limits.idle_timeout_seconds, 9u);
  // The secret never appears in the printed configuration.
  EXPECT_EQ(Describe(c).find("s3cret"), std::string::npos);
  EXPECT_NE(Describe(c).find("********"), std::string::npos);
}

TEST(ConfigTest, DurationsAsGoWritesThem) {
  EXPECT_EQ(*ParseDurationMs("604800"), 604800000u);  // seconds
  EXPECT_EQ(*ParseDurationMs("168h"), 604800000u);
  EXPECT_EQ(*ParseDurationMs("168h0m0s"), 604800000u);  // Go's String() of 7 days
  EXPECT_EQ(*ParseDurationMs("7d"), 604800000u);
  EXPECT_EQ(*ParseDurationMs("1h30m"), 5400000u);
  EXPECT_EQ(*ParseDurationMs("90s"), 90000u);
  EXPECT_EQ(*ParseDurationMs("1s500ms"), 1500u);
  EXPECT_EQ(*ParseDurationMs("0"), 0u);
  for (const char* bad : {"", "h", "7 d", "1.5h", "300us", "-1h", "7w", "1h30", "5mss", "99999999999999999999d"})
    EXPECT_FALSE(ParseDurationMs(bad).ok()) << bad;
  // The file takes seconds as a number too; a bad string names the key.
  Config c;
  ASSERT_TRUE(ApplyJson(R"({"proxy": {"cache_max_idle": 3600}})", "f", &c).ok());
  EXPECT_EQ(c.proxy.cache_max_idle_seconds, 3600u);
  ASSERT_TRUE(ApplyJson(R"({"proxy": {"cache_max_idle": "2d"}})", "f", &c).ok());
  EXPECT_EQ(c.proxy.cache_max_idle_seconds, 172800u);
  Status st = ApplyEnv({{"WHARF_PROXY_CACHE_MAX_IDLE", "a week"}}, &c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("WHARF_PROXY_CACHE_MAX_IDLE"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("is not a duration"), std::string::npos) << st.message();
  EXPECT_EQ(Config().proxy.cache_max_idle_seconds, 7u * 86400);
}

// A mirror is a URL, or an object with a login of its own; its password is
// masked in the printed configuration like the registry's.
TEST(ConfigTest, MirrorsWithALoginOfTheirOwn) {
  Config c;
  ASSERT_TRUE(ApplyJson(R"({"proxy": {"registries": {"docker.io": {"mirrors": [
      {"url": "https://harbor.corp/v2/hub", "username": "robot", "password": "t0ken"},
      "https://registry-1.docker.io"], "username": "me", "password": "hub-secret"}}}})",
                        "f", &c)
                  .ok());
  ASSERT_TRUE(Validate(&c).ok());
  const auto& m = c.proxy.registries["docker.io"].mirrors;
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].url, "https://harbor.corp/v2/hub");
  EXPECT_EQ(m[0].username, "robot");
  EXPECT_EQ(m[0].password, "t0ken");
  EXPECT_EQ(m[1].url, "https://registry-1.docker.io");
  EXPECT_TRUE(m[1].username.empty());
  const std::string d = Describe(c);
  EXPECT_EQ(d.find("t0ken"), std::string::npos);
  EXPECT_EQ(d.find("hub-secret"), std::string::npos);
  EXPECT_NE(d.find("\"robot\""), std::string::npos);
  for (const char* bad : {R"([{"url": "https://a", "token": "x"}])", R"([{"url": 5}])", "[7]"}) {
    Status st = ApplyJson(std::string(R"({"proxy": {"registries": {"docker.io": {"mirrors": )") + bad + "}}}}",
                          "f", &c);
    EXPECT_FALSE(st.ok()) << bad;
  }
}

// A registry's allow list: repository prefixes, a trailing '/' dropped;
// anything but a list of strings is refused.
TEST(ConfigTest, RegistryAllowListIsReadAndChecked) {
  Config c;
  ASSERT_TRUE(ApplyJson(R"({"proxy": {"registries": {"docker.io": {"mirrors": ["https://a"],
      "allow": ["library", "bitnami/"]}}}})", "f", &c).ok());
  EXPECT_EQ(c.proxy.registries["docker.io"].allow, (std::vector<std::string>{"library", "bitnami"}));
  EXPECT_NE(Describe(c).find("\"bitnami\""), std::string::npos);
  for (const char* bad : {R"("library")", "[3]", R"({"library": true})"})
    ExpectConfigRefused(std::string(R"({"proxy": {"registries": {"docker.io": {"allow": )") + bad + "}}}}",
                        "docker.io.allow", "expected a list of repository prefixes");
}

// The reference registry's read-only maintenance switch, in the forms its
// users write: a map (JSON or YAML flow style) or the _ENABLED leaf.
TEST(ConfigTest, ReadOnlyMaintenanceAsTheReferenceRegistryTakesIt) {
  for (const char* on : {R"({"enabled": true})", "{enabled: true}", " { enabled:yes } ", "true"}) {
    Config c;
    ASSERT_TRUE(ApplyEnv({{"REGISTRY_STORAGE_MAINTENANCE_READONLY", on}}, &c).ok()) << on;
    EXPECT_TRUE(c.storage.read_only) << on;
    EXPECT_TRUE(c.ignored_env.empty()) << on;
  }
  Config c;
  ASSERT_TRUE(ApplyEnv({{"REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED", "true"}}, &c).ok());
  EXPECT_TRUE(c.storage.read_only);
  ASSERT_TRUE(ApplyJson(R"({"storage": {"read_only": {"enabled": false}}})", "f", &c).ok());
  EXPECT_FALSE(c.storage.read_only);
  for (const char* bad : {"{enabled: maybe}", R"({"enabled": "true", "x": 1})", "{disabled: true}"}) {
    Status st = ApplyEnv({{"REGISTRY_STORAGE_MAINTENANCE_READONLY", bad}}, &c);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_NE(st.message().find("REGISTRY_STORAGE_MAINTENANCE_READONLY"), std::string::npos) << st.message();
  }
}

TEST(ConfigTest, TrustedProxiesAreAddressesOrNetworks) {
  Config c;
  ASSERT_TRUE(ApplyEnv({{"WHARF_HTTP_TRUSTED_PROXIES", "[10.0.0.0/8, 'fd00::/8', 192.0.2.7]"}}, &c).ok());
  EXPECT_EQ(c.http.trusted_proxies, (std::vector<std::string>{"10.0.0.0/8", "fd00::/8", "192.0.2.7"}));
  ASSERT_TRUE(ApplyJson(R"({"http": {"trusted_proxies": "127.0.0.1"}})", "f", &c).ok());
  EXPECT_EQ(c.http.trusted_proxies, std::vector<std::string>{"127.0.0.1"});
  for (const char* bad : {"[ingress.local]", "[10.0.0.0/33]", "[10.0.0.0/]", "[::/129]"}) {
    Status st = ApplyEnv({{"WHARF_HTTP_TRUSTED_PROXIES", bad}}, &c);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_NE(st.message().find("an address or network"), std::string::npos) << st.message();
  }
}

TEST(IpNetTest, ContainsAcrossFamilies) {
  auto v4 = IpNet::Parse("10.1.0.0/16");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->Contains("10.1.200.3"));
  EXPECT_FALSE(v4->Contains("10.2.0.1"));
  EXPECT_FALSE(v4->Contains("fd00::1"));
  EXPECT_FALSE(v4->Contains("not an ip"));
  auto one = IpNet::Parse("::1");
  ASSERT_TRUE(one);
  EXPECT_TRUE(one->Contains("::1"));
  EXPECT_FALSE(one->Contains("::2"));
  auto odd = IpNet::Parse("192.168.0.0/23");
  ASSERT_TRUE(odd);
  EXPECT_TRUE(odd->Contains("192.168.1.255"));
  EXPECT_FALSE(odd->Contains("192.168.2.0"));
  EXPECT_FALSE(IpNet::Parse("1.2.3.4/x"));
}

// The storage health check takes the reference registry's variables, with
// its defaults (10s, 3); an interval under a second is refused by name.
TEST(ConfigTest, StorageHealthCheckAsTheReferenceRegistryNamesIt) {
  Config c;
  EXPECT_TRUE(c.health.storage_enabled);
  EXPECT_EQ(c.health.storage_interval_seconds, 10u);
  EXPECT_EQ(c.health.storage_threshold, 3u);
  ASSERT_TRUE(ApplyEnv({{"REGISTRY_HEALTH_STORAGEDRIVER_ENABLED", "true"},
                        {"REGISTRY_HEALTH_STORAGEDRIVER_INTERVAL", "30s"},
                        {"REGISTRY_HEALTH_STORAGEDRIVER_THRESHOLD", "5"}},
                       &c)
                  .ok());
  EXPECT_EQ(c.health.storage_interval_seconds, 30u);
  EXPECT_EQ(c.health.storage_threshold, 5u);
  ASSERT_TRUE(ApplyJson(R"({"health": {"storage": {"enabled": false}}})", "f", &c).ok());
  EXPECT_FALSE(c.health.storage_enabled);
  Status st = ApplyJson(R"({"health": {"storage": {"interval": "500ms"}}})", "f", &c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("health.storage.interval: must be at least 1s"), std::string::npos) << st.message();
  EXPECT_FALSE(ApplyEnv({{"WHARF_HEALTH_STORAGE_THRESHOLD", "0"}}, &c).ok());
}

TEST(ConfigTest, NotificationEndpointsAsTheReferenceRegistryHasThem) {
  Config c;
  Status st = ApplyJson(R"({"notifications": {"endpoints": [
      {"name": "ci", "url": "https://ci.example/hook", "headers": {"Authorization": ["Bearer s3cret"],
       "X-One": "1"}, "timeout": "500ms", "threshold": 3, "backoff": "2s",
       "ignoredmediatypes": ["application/octet-stream"], "ignore": {"actions": ["pull"]}},
      {"name": "off", "url": "http://x/", "disabled": true}]}})",
                        "f", &c);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(c.notify_endpoints.size(), 1u);  // the disabled one is dropped
  const NotifyEndpointConfig& e = c.notify_endpoints[0];
  EXPECT_EQ(e.url, "https://ci.example/hook");
  EXPECT_EQ(e.headers, (std::vector<std::pair<std::string, std::string>>{{"Authorization", "Bearer s3cret"},
                                                                          {"X-One", "1"}}));
  EXPECT_EQ(e.timeout_ms, 500u);
  EXPECT_EQ(e.threshold, 3u);
  EXPECT_EQ(e.backoff_ms, 2000u);
  EXPECT_EQ(e.ignored_media_types, std::vector<std::string>{"application/octet-stream"});
  EXPECT_EQ(e.ignored_actions, std::vector<std::string>{"pull"});
  EXPECT_EQ(Describe(c).find("s3cret"), std::string::npos);  // header values are masked
  ASSERT_TRUE(ApplyEnv({{"WHARF_NOTIFICATIONS_ENDPOINTS", R"([{"name": "a", "url": "http://127.0.0.1:1/"}])"}}, &c).ok());
  EXPECT_EQ(c.notify_endpoints.size(), 1u);
  st = ApplyEnv({{"REGISTRY_NOTIFICATIONS_ENDPOINTS", R"([{"name": "b", "url": "http://x/"}])"}}, &c);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(c.notify_endpoints[0].name, "b");
  for (const char* yaml : {"- name: b", R"([{name: b, url: "http://x/"}])"}) {  // YAML that is not JSON
    st = ApplyEnv({{"REGISTRY_NOTIFICATIONS_ENDPOINTS", yaml}}, &c);
    ASSERT_FALSE(st.ok()) << yaml;
    EXPECT_NE(st.message().find("REGISTRY_NOTIFICATIONS_ENDPOINTS"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("expected a list of {name, url, ...}"), std::string::npos) << st.message();
  }
  for (const auto& [bad, says] : std::vector<std::pair<std::string, std::string>>{
           {R"([{"url": "http://x/"}])", "an endpoint needs a name"},
           {R"([{"name": "a"}])", "a: needs a url"},
           {R"([{"name": "a", "url": "ftp://x/"}])", "a.url: "},
           {R"([{"name": "a", "url": "http://x/", "timeout": "soon"}])", "a.timeout: 'soon' is not a duration"},
           {R"([{"name": "a", "url": "http://x/", "ignore": {"actions": ["push", "tag"]}}])",
            "'tag' is not one of push, pull, mount, delete"},
           {R"([{"name": "a", "url": "http://x/", "retries": 3}])", "a.retries: unknown key"},
           {R"([{"name": "a", "url": "http://x/", "headers": {"X-A\r\nHost": "evil"}}])",
            "a.headers: 'X-A\r\nHost' is not a header name"},
           {R"([{"name": "a", "url": "http://x/", "headers": {"X-A": ["ok", "b\r\nHost: evil"]}}])",
            "a.headers.X-A: a value must not contain CR, LF or NUL"},
           {R"([{"name": "a", "url": "http://x/"}, {"name": "a", "url": "http://y/"}])", "two endpoints"}}) {
    Config d;
    st = ApplyJson(R"({"notifications": {"endpoints": )" + bad + "}}", "f", &d);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_NE(st.message().find("notifications.endpoints"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find(says), std::string::npos) << st.message();
  }
}

// A registry:2 compose file's other variables: none is dropped silently.
TEST(ConfigTest, UnmappedRegistryVariablesAreJudged) {
  Config c;
  Status st = ApplyEnv({{"REGISTRY_HTTP_SECRET", "s3cr3t"},
                        {"REGISTRY_STORAGE", "filesystem"},
                        {"REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR", "inmemory"},
                        {"REGISTRY_HTTP_HOST", "https://registry.example"},
                        {"REGISTRY_NOTIFICATIONS_EVENTS_INCLUDEREFERENCES", "true"},
                        {"REGISTRY_SOMETHING_NEW", "1"},
                        {"REGISTRY_HTTP_HEADERS_X-Frame-Options", "[DENY]"},
                        {"REGISTRY_STORAGE_DELETE_ENABLED", "true"}},
                       &c);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(c.ignored_env.size(), 3u);
  EXPECT_EQ(c.ignored_env[0], "REGISTRY_HTTP_HOST is ignored: Location headers are relative, and clients "
                              "resolve them against the URL they used");
  EXPECT_EQ(c.ignored_env[1], "REGISTRY_NOTIFICATIONS_EVENTS_INCLUDEREFERENCES is ignored: of the notifications, "
                              "Wharf takes the endpoints (notifications.endpoints)");
  EXPECT_EQ(c.ignored_env[2], "REGISTRY_SOMETHING_NEW is ignored: Wharf has no such setting");
  EXPECT_TRUE(c.storage.delete_enabled);
  // Another storage driver would put the data where the user does not look.
  for (const auto& [var, value] : std::vector<std::pair<std::string, std::string>>{
           {"REGISTRY_STORAGE", "s3"}, {"REGISTRY_STORAGE_S3_BUCKET", "images"},
           {"REGISTRY_STORAGE_AZURE_CONTAINER", "c"}, {"REGISTRY_STORAGE_GCS_BUCKET", "b"}}) {
    Config d;
    st = ApplyEnv({{var, value}}, &d);
    ASSERT_FALSE(st.ok()) << var;
    EXPECT_EQ(st.message().rfind(var + ": ", 0), 0u) << st.message();
    EXPECT_NE(st.message().find("storage is not supported: Wharf stores on the local filesystem (storage.root)"),
              std::string::npos)
        << st.message();
  }
}

// A registry:2 config.yml as the blog posts and compose files have it.
TEST(ConfigTest, ReferenceRegistryYamlFile) {
  const std::string dir = testing::TempDir();
  const std::string htpasswd = dir + "/yaml.htpasswd";
  std::ofstream(htpasswd) << "u:$2y$05$abcdefghijklmnopqrstuu5PZ3XZ3JF0V7Bq1Xr7mY4A7vU9hU2a\n";
  const std::string path = dir + "/config.yml";
  std::ofstream(path) << "version: 0.1\n"
                         "log:\n  level: debug\n  fields:\n    service: registry\n"
                         "storage:\n  cache:\n    blobdescriptor: inmemory\n"
                         "  filesystem:\n    rootdirectory: /var/lib/registry\n"
                         "  delete:\n    enabled: true\n"
                         "http:\n  addr: :5001\n  secret:\n"
                         "  headers:\n    X-Content-Type-Options: [nosniff]\n"
                         "auth:\n  htpasswd:\n    realm: Registry Realm\n    path: " + htpasswd + "\n"
                         "proxy:\n  remoteurl: https://registry-1.docker.io\n  username: hubuser\n"
                         "  password: '12345'\n  ttl: 48h\n"
                         "notifications:\n  endpoints:\n    - name: off\n      url: http://x/\n      disabled: true\n"
                         "    - name: ci\n      url: http://ci.local/hook\n"
                         "      timeout: 500ms\n      threshold: 5\n      backoff: 1s\n"
                         "      headers:\n        Authorization: [Bearer t]\n";
  auto c = Load(path, {{"REGISTRY_HTTP_ADDR", "127.0.0.1:6000"}});  // the environment still wins
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_EQ(c->storage.root, "/var/lib/registry");
  EXPECT_TRUE(c->storage.delete_enabled);
  EXPECT_EQ(c->http.port, 6000);
  EXPECT_EQ(c->http.headers, (std::vector<std::pair<std::string, std::string>>{{"X-Content-Type-Options", "nosniff"}}));
  EXPECT_EQ(c->auth.mode, AuthMode::kHtpasswd);
  EXPECT_EQ(c->auth.htpasswd_path, htpasswd);
  EXPECT_EQ(c->auth.realm, "Registry Realm");
  EXPECT_EQ(c->proxy.remote_url, "https://registry-1.docker.io");
  EXPECT_EQ(c->proxy.password, "12345");  // quoted: a string, as written
  EXPECT_EQ(c->proxy.cache_max_idle_seconds, 48u * 3600);
  ASSERT_EQ(c->notify_endpoints.size(), 1u);
  EXPECT_EQ(c->notify_endpoints[0].threshold, 5u);
  EXPECT_EQ(c->notify_endpoints[0].timeout_ms, 500u);
  EXPECT_EQ(c->notify_endpoints[0].headers,
            (std::vector<std::pair<std::string, std::string>>{{"Authorization", "Bearer t"}}));
  // What Wharf does not use is named by its key in the file.
  ASSERT_EQ(c->ignored_env.size(), 1u);
  EXPECT_EQ(c->ignored_env[0], path + ": key log.fields.service is ignored: Wharf has no such setting");

  for (const auto& [yaml, says] : std::vector<std::pair<std::string, std::string>>{
           {"storage:\n  s3:\n    bucket: images\n", "key storage: s3 storage is not supported"},
           {"storage:\n  filesystem:\nauth:\n  token:\n    realm: https://auth\n", "key auth: 'token' is not supported"},
           {"http:\n  addr: [\n", "invalid YAML"},
           {"- a\n- b\n", "the top level must be a mapping"},
           {"http:\n  addr: :5000\n", "no storage configured"},
           {"storage:\n  filesystem:\n  delete:\n    enabled: maybe\n",
            "key storage.delete.enabled: 'maybe' is not a boolean"}}) {
    std::ofstream(path) << yaml;
    auto bad = Load(path, {});
    ASSERT_FALSE(bad.ok()) << yaml;
    EXPECT_EQ(bad.status().message().rfind(path + ": ", 0), 0u) << bad.status().message();
    EXPECT_NE(bad.status().message().find(says), std::string::npos) << bad.status().message();
  }
  // The filesystem driver without a root: the reference registry's default.
  std::ofstream(path) << "storage:\n  filesystem:\n";
  auto fs_default = Load(path, {});
  ASSERT_TRUE(fs_default.ok()) << fs_default.status().ToString();
  EXPECT_EQ(fs_default->storage.root, "/var/lib/registry");
  std::remove(path.c_str());
  std::remove(htpasswd.c_str());
}

// The environment is bytes: Describe() writes what is not UTF-8 as U+FFFD
// instead of throwing out of check-config.
TEST(ConfigTest, DescribeSurvivesBytesThatAreNotUtf8) {
  Config c;
  ASSERT_TRUE(ApplyEnv({{"REGISTRY_AUTH_HTPASSWD_REALM", "Realm \x94"}}, &c).ok());
  EXPECT_NE(Describe(c).find("Realm \xEF\xBF\xBD"), std::string::npos) << Describe(c);
}

TEST(ConfigTest, ReferenceRegistryAccessLogSwitch) {
  Config c;
  ASSERT_TRUE(ApplyEnv({{"REGISTRY_LOG_ACCESSLOG_DISABLED", "false"}}, &c).ok());
  EXPECT_EQ(c.http.access_log, AccessLogFormat::kText);
  ASSERT_TRUE(ApplyEnv({{"REGISTRY_LOG_ACCESSLOG_DISABLED", "true"}}, &c).ok());
  EXPECT_EQ(c.http.access_log, AccessLogFormat::kOff);
  EXPECT_TRUE(c.ignored_env.empty());
  EXPECT_FALSE(ApplyEnv({{"REGISTRY_LOG_ACCESSLOG_DISABLED", "sometimes"}}, &c).ok());
}

TEST(ConfigTest, MinimumTlsVersionAsTheReferenceRegistryNamesIt) {
  Config c;
  EXPECT_FALSE(c.http.tls13_only);
  ASSERT_TRUE(ApplyEnv({{"REGISTRY_HTTP_TLS_MINIMUMTLS", "tls1.3"}}, &c).ok());
  EXPECT_TRUE(c.http.tls13_only);
  ASSERT_TRUE(ApplyJson(R"({"http": {"tls": {"minimum_version": "TLS1.2"}}})", "f", &c).ok());
  EXPECT_FALSE(c.http.tls13_only);
  Status st = ApplyEnv({{"REGISTRY_HTTP_TLS_MINIMUMTLS", "tls1.0"}}, &c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("never offers TLS below 1.2"), std::string::npos) << st.message();
  EXPECT_FALSE(ApplyEnv({{"REGISTRY_HTTP_TLS_MINIMUMTLS", "ssl3"}}, &c).ok());
}

TEST(ConfigTest, EnvOverridesFile) {
  Config c;
  ASSERT_TRUE(ApplyJson(R"({"storage": {"root": "/from/file"}})", "f", &c).ok());
  ASSERT_TRUE(ApplyEnv({{"WHARF_STORAGE_ROOT", "/from/env"}}, &c).ok());
  EXPECT_EQ(c.storage.root, "/from/env");
}

TEST(ConfigTest, BooleansAcceptComposeSpellings) {
  for (auto [s, want] : std::vector<std::pair<std::string, bool>>{
           {"true", true}, {"YES", true}, {"1", true}, {"no", false}, {"False", false}, {"0", false}}) {
    Config c;
    c.storage.delete_enabled = !want;
    ASSERT_TRUE(ApplyEnv({{"REGISTRY_STORAGE_DELETE_ENABLED", s}}, &c).ok()) << s;
    EXPECT_EQ(c.storage.delete_enabled, want) << s;
  }
  Config c;
  EXPECT_EQ(ApplyEnv({{"REGISTRY_STORAGE_DELETE_ENABLED", "maybe"}}, &c).message(),
            "REGISTRY_STORAGE_DELETE_ENABLED: 'maybe' is not a boolean (true/false/yes/no/1/0)");
}

TEST(ConfigTest, BadEnvValuesNameTheVariable) {
  Config c;
  EXPECT_EQ(ApplyEnv({{"WHARF_WORKERS", "lots"}}, &c).message(),
            "WHARF_WORKERS: 'lots' is not a non-negative integer");
  EXPECT_EQ(ApplyEnv({{"WHARF_NOPE", "1"}}, &c).message(), "WHARF_NOPE: unknown WHARF_* variable");
  EXPECT_EQ(ApplyEnv({{"REGISTRY_AUTH", "token"}}, &c).message(),
            "REGISTRY_AUTH: 'token' is not supported (use htpasswd or none)");
}

TEST(ConfigTest, ValidationErrors) {
  Config c;
  c.http.addr = "localhost";
  EXPECT_EQ(Validate(&c).message(), "http.addr: 'localhost' is not host:port");
  c = Config();
  c.http.addr = "0.0.0.0:99999";
  EXPECT_EQ(Validate(&c).message(), "http.addr: '99999' is not a port number");
  c = Config();
  c.http.tls_certificate = "/nonexistent/cert.pem";
  EXPECT_EQ(Validate(&c).message(), "http.tls.key: required when http.tls.certificate is set");
  c.http.tls_key = "/nonexistent/key.pem";
  EXPECT_EQ(Validate(&c).message(),
            "http.tls.certificate: cannot read '/nonexistent/cert.pem': No such file or directory");
  c = Config();
  c.auth.mode = AuthMode::kHtpasswd;
  EXPECT_EQ(Validate(&c).message(), "auth.htpasswd.path: required when auth.mode is htpasswd");
  c = Config();
  c.proxy.remote_url = "ftp://x";
  EXPECT_EQ(Validate(&c).message(), "proxy.remoteurl: 'ftp://x' must start with http:// or https://");
  c = Config();
  c.http.addr = "[::1]:7000";
  ASSERT_TRUE(Validate(&c).ok());
  EXPECT_EQ(c.http.host, "::1");
}

TEST(ConfigTest, ResponseHeadersFromFileAndEnv) {
  Config c;
  ASSERT_TRUE(ApplyJson(R"({"http": {"headers": {
      "X-Content-Type-Options": ["nosniff"],
      "Access-Control-Allow-Credentials": [true],
      "X-Frame-Options": "DENY"}}})", "test", &c).ok());
  using H = std::pair<std::string, std::string>;
  EXPECT_EQ(c.http.headers, (std::vector<H>{{"Access-Control-Allow-Credentials", "true"},
                                            {"X-Content-Type-Options", "nosniff"},
                                            {"X-Frame-Options", "DENY"}}));
  // The reference registry's variables: YAML flow lists, JSON lists or one
  // value; a variable replaces that header's values from the file.
  ASSERT_TRUE(ApplyEnv({{"REGISTRY_HTTP_HEADERS_Access-Control-Allow-Methods", "['HEAD', \"GET\", OPTIONS]"},
                        {"REGISTRY_HTTP_HEADERS_x-frame-options", "SAMEORIGIN"},
                        {"REGISTRY_HTTP_HEADERS_X-Empty-List", R"(["a, b"])"}},
                       &c).ok());
  EXPECT_EQ(c.http.headers, (std::vector<H>{{"Access-Control-Allow-Credentials", "true"},
                                            {"X-Content-Type-Options", "nosniff"},
                                            {"Access-Control-Allow-Methods", "HEAD"},
                                            {"Access-Control-Allow-Methods", "GET"},
                                            {"Access-Control-Allow-Methods", "OPTIONS"},
                                            {"X-Empty-List", "a, b"},
                                            {"x-frame-options", "SAMEORIGIN"}}));
  auto shown = nlohmann::json::parse(Describe(c));
  EXPECT_EQ(shown["http"]["headers"]["Access-Control-Allow-Methods"],
            nlohmann::json({"HEAD", "GET", "OPTIONS"}));
}

TEST(ConfigTest, BadResponseHeadersAreErrors) {
  for (const char* bad : {R"({"http": {"headers": {"Content-Length": "1"}}})",
                          R"({"http": {"headers": {"X-Request-Id": "1"}}})",
                          R"({"http": {"headers": {"Bad Name": "1"}}})",
                          R"({"http": {"headers": {"X-A": "1\r\nX-Injected: 1"}}})",
                          R"({"http": {"headers": {"X-A": []}}})",
                          R"({"http": {"headers": {"X-A": {"b": 1}}}})",
                          R"({"http": {"headers": ["X-A"]}})"}) {
    Config c;
    EXPECT_FALSE(ApplyJson(bad, "test", &c).ok()) << bad;
  }
  Config c;
  Status st = ApplyEnv({{"REGISTRY_HTTP_HEADERS_Connection", "close"}}, &c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("REGISTRY_HTTP_HEADERS_Connection: Connection: set by Wharf itself"),
            std::string::npos) << st.message();
}

TEST(ConfigTest, ClientCasFromFileAndEnv) {
  Config c;
  ASSERT_TRUE(ApplyJson(R"({"http": {"tls": {"client_cas": "/etc/wharf/ca.pem"}}})", "test", &c).ok());
  EXPECT_EQ(c.http.tls_client_cas, std::vector<std::string>{"/etc/wharf/ca.pem"});
  ASSERT_TRUE(ApplyEnv({{"REGISTRY_HTTP_TLS_CLIENTCAS", "[/a/ca.pem, '/b/other ca.pem']"}}, &c).ok());
  EXPECT_EQ(c.http.tls_client_cas, (std::vector<std::string>{"/a/ca.pem", "/b/other ca.pem"}));
  EXPECT_FALSE(ApplyJson(R"({"http": {"tls": {"client_cas": [1]}}})", "test", &c).ok());
  // Without TLS there is nothing to ask client certificates in.
  auto bad = Load("", {{"REGISTRY_HTTP_TLS_CLIENTCAS", "/a/ca.pem"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("http.tls.client_cas: only used with TLS"), std::string::npos)
      << bad.status().message();
}

TEST(ConfigTest, ForwardProxyFromTheUsualVariables) {
  auto c = Load("", {{"https_proxy", "http://lower:1"},
                     {"HTTPS_PROXY", "http://user:s3cret@upper:3128"},
                     {"http_proxy", "plain:8080"},
                     {"NO_PROXY", "localhost,127.0.0.1"}});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->proxy.https_proxy, "http://user:s3cret@upper:3128");  // upper case wins
  EXPECT_EQ(c->proxy.http_proxy, "plain:8080");
  EXPECT_EQ(c->proxy.no_proxy, "localhost,127.0.0.1");
  std::string shown = Describe(*c);
  EXPECT_EQ(shown.find("s3cret"), std::string::npos) << shown;
  EXPECT_NE(shown.find("upper:3128"), std::string::npos) << shown;
  // The generic name works as for every key.
  c = Load("", {{"WHARF_PROXY_NO_PROXY", "*"}});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->proxy.no_proxy, "*");
}

TEST(ConfigTest, BadForwardProxyNamesTheKey) {
  auto c = Load("", {{"HTTPS_PROXY", "socks5://proxy:1080"}});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("proxy.https_proxy (or HTTPS_PROXY)"), std::string::npos)
      << c.status().message();
  c = Load("", {{"no_proxy", "10.0.0.0/99"}});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("proxy.no_proxy"), std::string::npos) << c.status().message();
}

TEST(ConfigTest, MissingFileIsAnError) {
  Config c;
  EXPECT_EQ(ApplyFile("/nonexistent/wharf.json", &c).message(),
            "--config: cannot read '/nonexistent/wharf.json': No such file or directory");
}

// Found by fuzz_config: a number out of double's range made the error path
// throw out_of_range, which escaped and aborted the process.
TEST(ConfigTest, HugeNumberIsAnErrorNotACrash) {
  Config c;
  Status st = ApplyJson(R"({"http": {"workers": 6e666666}})", "f.json", &c);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("f.json: invalid JSON"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace wharf
