#include "config/registry_env.h"

#include <string_view>

#include "util/ascii.h"

namespace wharf {
namespace {

constexpr std::string_view kNeedless[] = {
    "REGISTRY_VERSION", "REGISTRY_HTTP_SECRET", "REGISTRY_HTTP_RELATIVEURLS", "REGISTRY_STORAGE_CACHE_",
    "REGISTRY_STORAGE_FILESYSTEM_MAXTHREADS", "REGISTRY_STORAGE_REDIRECT_", "REGISTRY_REDIS_"};

constexpr std::string_view kOtherDrivers[] = {"REGISTRY_STORAGE_S3", "REGISTRY_STORAGE_AZURE",
                                              "REGISTRY_STORAGE_GCS", "REGISTRY_STORAGE_SWIFT",
                                              "REGISTRY_STORAGE_OSS", "REGISTRY_STORAGE_INMEMORY"};

// Prefix -> what to do instead.
constexpr std::pair<std::string_view, std::string_view> kInstead[] = {
    {"REGISTRY_NOTIFICATIONS_", "of the notifications, Wharf takes the endpoints (notifications.endpoints)"},
    {"REGISTRY_HTTP_DEBUG_", "/metrics is served on the main port (http.addr)"},
    {"REGISTRY_HTTP_HOST", "Location headers are relative, and clients resolve them against the URL they used"},
    {"REGISTRY_HTTP_TLS_LETSENCRYPT_", "give the certificate and key files (http.tls.certificate, http.tls.key)"},
    {"REGISTRY_LOG_ACCESSLOG_", "set http.access_log (WHARF_HTTP_ACCESS_LOG=off)"},
    {"REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_",
     "abandoned uploads are removed after storage.upload_expiry_minutes"},
    {"REGISTRY_AUTH_TOKEN_", "Wharf issues its own tokens (auth.token.enabled)"},
};

constexpr std::string_view kLocalOnly =
    "storage is not supported: Wharf stores on the local filesystem (storage.root)";

}  // namespace

RegistryEnvVerdict JudgeRegistryEnv(const std::string& name, const std::string& value) {
  if (name == "REGISTRY_STORAGE") {
    std::string driver = AsciiLower(TrimAsciiSpace(value));
    if (driver.empty() || driver == "filesystem") return {};
    return {RegistryEnvVerdict::kRefused, name + ": " + driver + " " + std::string(kLocalOnly)};
  }
  for (std::string_view d : kOtherDrivers)
    if (name.starts_with(d))
      return {RegistryEnvVerdict::kRefused,
              name + ": " + AsciiLower(d.substr(d.rfind('_') + 1)) + " " + std::string(kLocalOnly)};
  for (std::string_view needless : kNeedless)
    if (name.starts_with(needless)) return {};
  for (const auto& [prefix, instead] : kInstead)
    if (name.starts_with(prefix)) return {RegistryEnvVerdict::kIgnored, name + " is ignored: " + std::string(instead)};
  return {RegistryEnvVerdict::kIgnored, name + " is ignored: Wharf has no such setting"};
}

}  // namespace wharf
