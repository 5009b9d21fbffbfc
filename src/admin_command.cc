#include "admin_command.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <shared_mutex>
#include <string>

#include "admin_client.h"
#include "registry/app.h"
#include "registry/fsck.h"
#include "registry/gc.h"
#include "registry/import.h"
#include "registry/usage.h"
#include "util/encoding.h"

namespace wharf {
namespace {

// Asks the running server for POST `target`; returns the HTTP status and
// body, or -1 with the reason in *body when no server answered.
int AskServer(const Config& cfg, const std::string& target, std::string* body) {
  AdminClient admin(cfg);
  proxy::ClientResponse resp;
  body->clear();
  Status st = admin.Do("POST", target, {}, &resp, [body](std::string_view b) {
    body->append(b);
    return Status();
  });
  if (!st.ok()) {
    *body = st.message();
    return -1;
  }
  return resp.status;
}

// A maintenance report as the JSON that both paths print.
template <typename Report>
Result<std::string> AsJson(const Result<Report>& report) {
  if (!report.ok()) return report.status();
  return report->ToJson();
}

using LocalRun = std::function<Result<std::string>(storage::BlobStore&, storage::MetaStore&,
                                                   std::shared_mutex& gc_lock)>;

// Runs `local` on the opened database or, when a server holds it, asks the
// server for `target`. Prints the JSON report on stdout and returns it; on
// failure prints "wharf <name>: <why>" on stderr and returns nothing.
std::optional<std::string> RunHere(const Config& cfg, const char* name, const std::string& target,
                                   const LocalRun& local) {
  Result<std::string> out = Internal("not run");
  auto meta = storage::MetaStore::Open(cfg.storage.root + "/meta");
  if (meta.ok()) {
    storage::BlobStore blobs(cfg.storage.root);
    std::shared_mutex lock;  // nobody else in this process: only to satisfy the contract
    out = local(blobs, **meta, lock);
  } else {
    // Most likely a running server holds the database: ask it.
    std::string body;
    int status = AskServer(cfg, target, &body);
    if (status == 200) {
      out = body;
    } else {
      std::string why = status < 0 ? body : "HTTP " + std::to_string(status) + " " + body;
      out = Status(Code::kUnavailable, std::string("cannot open ") + cfg.storage.root + "/meta (" +
                                           meta.status().message() + ") and the server did not run " +
                                           name + ": " + why);
    }
  }
  if (!out.ok()) {
    fprintf(stderr, "wharf %s: %s\n", name, out.status().ToString().c_str());
    return std::nullopt;
  }
  printf("%s\n", out->c_str());
  return *out;
}

}  // namespace

int GcCommand(const Config& cfg, bool dry_run, bool delete_untagged) {
  std::string query;
  if (dry_run) query += "dry_run";
  if (delete_untagged) query += std::string(query.empty() ? "" : "&") + "delete_untagged";
  if (!query.empty()) query = "?" + query;
  const registry::GcOptions opt = registry::GcOptionsOf(cfg.storage, dry_run, delete_untagged);
  auto out = RunHere(cfg, "gc", "/admin/gc" + query,
                     [&](storage::BlobStore& blobs, storage::MetaStore& meta, std::shared_mutex& lock) {
                       return AsJson(registry::RunGc(blobs, meta, lock, opt));
                     });
  return out ? 0 : 1;
}

int FsckCommand(const Config& cfg, bool repair) {
  auto out = RunHere(cfg, "fsck", repair ? "/admin/fsck?repair" : "/admin/fsck",
                     [&](storage::BlobStore& blobs, storage::MetaStore& meta, std::shared_mutex& lock) {
                       return AsJson(registry::RunFsck(blobs, meta, lock, repair));
                     });
  if (!out) return 2;
  // The same exit code whichever process ran it: read it off the report.
  auto j = nlohmann::json::parse(*out, nullptr, false);
  if (!j.is_object() || !j.contains("problems")) return 2;
  for (const auto& p : j["problems"])
    if (!p.value("repaired", false)) return 1;
  return 0;
}

int ImportCommand(const Config& cfg, const std::string& dir, const std::string& cache_registry) {
  if (!cache_registry.empty() && (!cfg.proxy.enabled || (!cfg.proxy.registries.count(cache_registry) &&
                                                         !cfg.proxy.allow_unknown_registries))) {
    fprintf(stderr, "wharf import-registry: --cache %s: the proxy does not serve that registry "
                    "(proxy.enabled, proxy.registries)\n", cache_registry.c_str());
    return 2;
  }
  // The server may run it, from its own working directory.
  char* abs = ::realpath(dir.c_str(), nullptr);
  if (!abs) {
    fprintf(stderr, "wharf import-registry: %s: %s\n", dir.c_str(), strerror(errno));
    return 1;
  }
  const std::string path = abs;
  free(abs);
  // Into a new store, as before the first serve.
  if (Status st = storage::MakeDirs(cfg.storage.root); !st.ok()) {
    fprintf(stderr, "wharf import-registry: %s\n", st.ToString().c_str());
    return 1;
  }
  const registry::ImportOptions opt{path, cfg.http.limits.max_manifest_bytes, cache_registry};
  auto out = RunHere(cfg, "import-registry",
                     "/admin/import?dir=" + UrlEncode(path) + "&cache=" + UrlEncode(cache_registry),
                     [&](storage::BlobStore& blobs, storage::MetaStore& meta, std::shared_mutex& lock)
                         -> Result<std::string> {
                       WHARF_RETURN_IF_ERROR(blobs.Init());  // no server: its tmp/ is ours
                       return AsJson(registry::RunImport(blobs, meta, lock, opt));
                     });
  if (!out) return 1;
  auto j = nlohmann::json::parse(*out, nullptr, false);
  return j.is_object() && j.contains("skipped") && j["skipped"].empty() ? 0 : 1;
}

int UsageCommand(const Config& cfg, const std::string& prefix, bool cached) {
  auto out = RunHere(cfg, "usage", "/admin/usage?prefix=" + UrlEncode(prefix) + (cached ? "&cached" : ""),
                     [&](storage::BlobStore&, storage::MetaStore& meta, std::shared_mutex&) {
                       return AsJson(registry::RunUsage(meta, cfg.storage.quotas, prefix, cached));
                     });
  return out ? 0 : 1;
}

}  // namespace wharf
