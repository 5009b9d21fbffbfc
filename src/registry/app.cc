#include "registry/app.h"

#include <malloc.h>
#include <unistd.h>

#include "registry/access.h"
#include "registry/blocking.h"
#include "registry/client_view.h"
#include "registry/errors.h"
#include "registry/events.h"
#include "registry/fsck.h"
#include "registry/gc.h"
#include "registry/import.h"
#include "registry/handlers.h"
#include "registry/names.h"
#include "registry/proxied.h"
#include "registry/routes.h"
#include "registry/token_key.h"
#include "registry/usage.h"
#include "util/log.h"

namespace wharf::registry {

using http::Exchange;
using http::Router;

namespace {

constexpr char kApiVersion[] = "registry/2.0";
constexpr uint64_t kManifestCacheBytes = 64ull << 20;

std::string AllowHeader(uint32_t m) {
  static const std::pair<uint32_t, const char*> kNames[] = {
      {http::kGet, "GET"},     {http::kHead, "HEAD"},     {http::kPost, "POST"},
      {http::kPut, "PUT"},     {http::kPatch, "PATCH"},   {http::kDelete, "DELETE"},
      {http::kOptions, "OPTIONS"}};
  std::string s;
  for (auto& [bit, name] : kNames) {
    if (!(m & bit)) continue;
    if (!s.empty()) s += ", ";
    s += name;
  }
  return s;
}

}  // namespace

Registry::Registry(const Config& cfg, Metrics* metrics) : metrics_(metrics) {
  svc_.cfg = cfg;
  BuildRouter(&router_);
}

Result<std::unique_ptr<Registry>> Registry::Open(const Config& cfg, Metrics* metrics) {
  std::unique_ptr<Registry> r(new Registry(cfg, metrics));
  Services& s = r->svc_;
  const std::string& root = cfg.storage.root;
  for (const std::string& p : cfg.http.trusted_proxies) {
    auto net = IpNet::Parse(p);
    if (!net) return Invalid("http.trusted_proxies: '" + p + "' is not an address or network");
    s.trusted_proxies.push_back(*net);
  }
  s.blobs = std::make_unique<storage::BlobStore>(root);
  Status st = s.blobs->Init();
  if (!st.ok()) return Status(st.code(), "storage.root: " + st.message());
  auto meta = storage::MetaStore::Open(root + "/meta");
  if (!meta.ok()) return Status(meta.status().code(), "storage.root: " + meta.status().message());
  s.meta = std::move(*meta);
  s.hashing = std::make_unique<storage::HashPool>(storage::HashPool::DefaultThreads());
  s.uploads = std::make_unique<storage::UploadManager>(s.blobs.get(), s.meta.get(),
                                                       cfg.http.limits.max_blob_bytes, s.hashing.get());
  st = s.uploads->Init();
  if (!st.ok()) return Status(st.code(), "storage.root: " + st.message());
  s.manifests = std::make_unique<ManifestCache>(kManifestCacheBytes);
  s.quotas = std::make_unique<QuotaGate>(s.cfg.storage.quotas, *s.meta);
  s.stats = std::make_unique<StorageStats>(root, cfg.storage.quotas);
  st = s.stats->Refresh(*s.meta, *s.uploads);
  if (!st.ok()) return Status(st.code(), "storage.root: " + st.message());
  if (cfg.health.storage_enabled)
    s.health = std::make_unique<StorageHealth>(
        s.blobs->tmp_dir(), s.meta.get(),
        StorageHealth::Options{static_cast<int64_t>(cfg.health.storage_interval_seconds) * 1000,
                               cfg.health.storage_threshold});
  if (cfg.proxy.enabled) s.proxy = std::make_unique<ProxyService>(&s, cfg.proxy);
  if (cfg.auth.mode == AuthMode::kHtpasswd) {
    std::string token_key;
    if (cfg.auth.token_enabled) {
      const std::string path = cfg.auth.token_key_file.empty() ? root + "/token.key" : cfg.auth.token_key_file;
      auto key = LoadOrCreateTokenKey(path);
      if (!key.ok()) return Status(key.status().code(), "auth.token.key_file: " + key.status().message());
      token_key = std::move(*key);
    }
    s.auth = std::make_unique<auth::Authenticator>(cfg.auth, std::move(token_key));
    st = s.auth->Reload();
    if (!st.ok()) return st;
  }
  if (!cfg.notify_endpoints.empty()) {
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    s.notifier = std::make_unique<notify::Notifier>(cfg.notify_endpoints,
                                                    std::string(host) + ":" + std::to_string(cfg.http.port));
  }
  if (!cfg.storage.retention.empty() && cfg.storage.gc_interval_seconds == 0)
    WLOG_WARN("storage.retention applies at garbage collection, which runs only when asked (wharf gc): "
              "set storage.gc_interval_seconds (e.g. 86400) to apply it daily");
  r->maintenance_ = std::thread([p = r.get()] { p->Maintain(); });
  return r;
}

void Registry::Reload() {
  if (!svc_.auth) return;
  Status st = svc_.auth->Reload();
  if (!st.ok()) WLOG_ERROR("SIGHUP: htpasswd reload failed, keeping the old users: %s", st.message().c_str());
}

Registry::~Registry() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (maintenance_.joinable()) maintenance_.join();
}

void Registry::Maintain() {
  using Clock = std::chrono::steady_clock;
  constexpr auto kHousekeeping = std::chrono::seconds(30);
  const auto gc_every = std::chrono::seconds(svc_.cfg.storage.gc_interval_seconds);
  auto next_housekeeping = Clock::now() + kHousekeeping;
  auto next_gc = Clock::now() + gc_every;
  // What went idle while the server was down goes now, not in an hour.
  if (svc_.proxy) svc_.proxy->evictor().ExpireIdle();
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_until(lock, gc_every.count() ? std::min(next_housekeeping, next_gc) : next_housekeeping);
    if (stop_) break;
    lock.unlock();
    if (Clock::now() >= next_housekeeping) {
      Housekeep();
      next_housekeeping = Clock::now() + kHousekeeping;
    }
    if (gc_every.count() && Clock::now() >= next_gc) {
      ScheduledGc();
      next_gc = Clock::now() + gc_every;  // from the end: a long run never piles up
    }
    lock.lock();
  }
  lock.unlock();
  if (svc_.proxy) svc_.proxy->evictor().Persist();
}

void Registry::Housekeep() {
  const int64_t expiry_ms = int64_t{svc_.cfg.storage.upload_expiry_minutes} * 60 * 1000;
  size_t n = svc_.uploads->Expire(expiry_ms);
  if (n) WLOG_INFO("expired %zu abandoned uploads", n);
  if (svc_.proxy) {
    Evictor& ev = svc_.proxy->evictor();
    ev.Persist();
    ev.MaybeEvict();
    ev.ExpireIdle();
  }
  Status st = svc_.stats->Refresh(*svc_.meta, *svc_.uploads);
  if (!st.ok()) WLOG_WARN("storage figures: %s", st.ToString().c_str());
  // Memory freed after a burst (say the 160 KiB of TLS buffers of each of
  // 64 concurrent downloads) stays in glibc's heaps, scattered, and the
  // next burst touches other pages of them: the resident size crept by
  // megabytes per burst (bench/RESULTS.md). Hand the free pages back.
  malloc_trim(0);
}

Result<GcReport> Registry::Collect(bool dry_run, bool delete_untagged) {
  Result<GcReport> r = RunGc(*svc_.blobs, *svc_.meta, svc_.gc_lock,
                             GcOptionsOf(svc_.cfg.storage, dry_run, delete_untagged));
  svc_.stats->RecordGc(r);
  return r;
}

void Registry::ScheduledGc() {
  Result<GcReport> r = Collect(false, svc_.cfg.storage.gc_delete_untagged);
  if (!r.ok()) {
    WLOG_ERROR("scheduled gc failed: %s", r.status().ToString().c_str());
    return;
  }
  WLOG_INFO("scheduled gc: %llu blobs (%llu bytes) and %llu untagged manifests deleted; %llu manifests kept",
            static_cast<unsigned long long>(r->blobs_deleted), static_cast<unsigned long long>(r->bytes_freed),
            static_cast<unsigned long long>(r->untagged_deleted), static_cast<unsigned long long>(r->manifests));
}

Registry::BodyMode Registry::Begin(Exchange& ex) {
  http::Request& req = ex.req;
  http::Response& res = ex.res;
  // Once per request: the access log, the auth gate and the token service
  // read it (ClientIp(ex)).
  if (!svc_.trusted_proxies.empty() && ex.client.empty()) {
    std::string ip = ViewOf(svc_.trusted_proxies, req).ip;
    if (ip != req.ClientIp()) ex.client = std::move(ip);
  }
  Router::Match m;
  switch (router_.Find(req.method, req.path, &m)) {
    case Router::Outcome::kNotFound:
      res.Error(404, "NOT_FOUND", "no such endpoint");
      return BodyMode::kRespond;
    case Router::Outcome::kMethodNotAllowed:
      if (req.method == "OPTIONS") {
        // What the path takes; answered before the auth gate because a
        // browser's CORS preflight never carries credentials (a registry web
        // UI; its Access-Control-* headers come from http.headers).
        res.status = 204;
        res.AddHeader("Allow", AllowHeader(m.allowed | http::kOptions));
        return BodyMode::kRespond;
      }
      Fail(res, Err::kUnsupported, "method not allowed on this endpoint");
      res.AddHeader("Allow", AllowHeader(m.allowed));
      return BodyMode::kRespond;
    case Router::Outcome::kFound:
      break;
  }
  req.route = m.route;
  req.params = m.params;
  if (m.route == kRouteAdminGc || m.route == kRouteAdminFsck || m.route == kRouteAdminImport ||
      m.route == kRouteAdminUsage) {
    if (req.peer != kAdminPeer) {  // never over TCP
      res.Error(404, "NOT_FOUND", "no such endpoint");
      return BodyMode::kRespond;
    }
    ex.body_limit = 0;
    return BodyMode::kBuffer;
  }
  const bool repo_route = m.route != kRouteBase && m.route != kRouteHealthz &&
                          m.route != kRouteLivez && m.route != kRouteMetrics &&
                          m.route != kRouteCatalog && m.route != kRouteToken;
  if (repo_route && !ValidName(req.params[0])) {
    Fail(res, Err::kNameInvalid, "invalid repository name");
    return BodyMode::kRespond;
  }
  if (m.route == kRouteToken) return TokenBegin(svc_, ex);
  switch (CheckAccess(svc_, ex, m.route)) {
    case Gate::kPass: break;
    case Gate::kAnswered:
      res.AddHeader("Docker-Distribution-API-Version", kApiVersion);
      return BodyMode::kRespond;
    case Gate::kPaused: return BodyMode::kPause;
  }
  // Read-only maintenance: every API write, on pushed and cached content
  // alike (uploads, manifests, deletes); pulls, proxy fills and gc go on.
  if (svc_.cfg.storage.read_only && repo_route && !req.IsRead()) {
    Fail(res, Err::kReadOnly, "this registry is read-only for maintenance (storage.read_only)");
    return BodyMode::kRespond;
  }
  if (svc_.proxy && (m.route == kRouteManifest || m.route == kRouteBlob || m.route == kRouteTags ||
                     m.route == kRouteReferrers || m.route == kRouteUpload ||
                     m.route == kRouteUploadStart)) {
    const bool read = req.IsRead();
    // DELETE of cached content: how an operator drops an image or a blob
    // from the cache before it expires (storage.delete_enabled decides, as
    // for pushed content; a read-only mirror allows it, since it pushes
    // nothing). The hosted handlers do it, on the cache's repository.
    const bool purge = req.method == "DELETE" && (m.route == kRouteManifest || m.route == kRouteBlob);
    std::string repo(req.params[0]);
    proxy::Upstream* up = nullptr;
    // A repository pushed here always wins over the upstream.
    if (((read && m.route != kRouteUpload) || purge) && !svc_.meta->RepoExists(repo))
      up = svc_.proxy->Route(req, &repo);
    // Outside the registry's allow list a repository is local only, as if
    // the proxy were off: its reads answer from what was pushed here, so
    // that a first push there, whose client HEADs before it uploads, works.
    // Nothing was (Route runs only then): a pull is told why.
    if (up && !svc_.proxy->Allowed(*up, repo)) {
      if (read && (m.route == kRouteManifest || m.route == kRouteTags)) {
        res.AddHeader("Docker-Distribution-API-Version", kApiVersion);
        Fail(res, Err::kNameUnknown,
             "repository name not known to registry: " + up->name() + "'s " + repo +
                 " is not pulled through here (proxy.registries." + up->name() + ".allow)",
             "{\"name\":\"" + std::string(req.params[0]) + "\"}");
        return BodyMode::kRespond;
      }
      up = nullptr;
    }
    if (up && read) return ProxiedBegin(svc_, ex, up, repo);
    if (up && purge) {
      auto store = std::make_shared<std::string>(ProxyService::StoreRepo(*up, repo));
      req.params[0] = *store;
      ex.scratch = std::move(store);  // outlives the request's Finish
    } else if (!read && svc_.proxy->read_only()) {
      Fail(res, Err::kReadOnly, "this registry is a read-only mirror");
      return BodyMode::kRespond;
    }
  }
  if (m.route != kRouteMetrics && m.route != kRouteHealthz && m.route != kRouteLivez)
    res.AddHeader("Docker-Distribution-API-Version", kApiVersion);
  switch (m.route) {
    case kRouteBase:
      res.Set(200, "application/json", "{}");
      break;
    case kRouteHealthz:  // the process answers and its storage takes writes
      if (auto v = svc_.health ? svc_.health->Verdict() : StorageHealth::Result(); !v.healthy) {
        Fail(res, Err::kUnhealthy, "storage unhealthy: " + v.reason);
        break;
      }
      [[fallthrough]];
    case kRouteLivez:  // the process answers (for liveness probes: a restart mends no disk)
      res.Set(200, "text/plain; charset=utf-8", "ok\n");
      break;
    case kRouteMetrics:
      res.Set(200, "text/plain; version=0.0.4; charset=utf-8",
              metrics_->Render() + svc_.stats->Render() + svc_.quotas->RenderMetrics() +
                  (svc_.health ? svc_.health->RenderMetrics() : std::string()) +
                  (svc_.proxy ? svc_.proxy->RenderMetrics() : std::string()) +
                  (svc_.notifier ? svc_.notifier->RenderMetrics() : std::string()));
      break;
    case kRouteCatalog:
      ListCatalog(svc_, ex);
      break;
    case kRouteTags:
      ListTags(svc_, ex);
      break;
    case kRouteReferrers:
      ListReferrers(svc_, ex);
      break;
    case kRouteManifest:
      return ManifestBegin(svc_, ex);
    case kRouteUploadStart:
      return UploadStartBegin(svc_, ex);
    case kRouteUpload:
      return UploadBegin(svc_, ex);
    case kRouteBlob:
      return BlobBegin(svc_, ex);
    case kRouteAdminGc:
    case kRouteAdminFsck:
    case kRouteAdminImport:
    case kRouteAdminUsage:
    case kRouteToken:
      break;  // handled above
  }
  return BodyMode::kRespond;
}

void Registry::Done(const Exchange& ex) {
  if (!svc_.notifier) return;
  if (auto e = EventOf(svc_, ex)) svc_.notifier->Emit(*e);
}

void Registry::Finish(Exchange& ex) {
  switch (ex.req.route) {
    case kRouteManifest:
      return ManifestFinish(svc_, ex);
    case kRouteUploadStart:
      return UploadStartFinish(svc_, ex);
    case kRouteUpload:
      return UploadFinish(svc_, ex);
    case kRouteBlob:
      return BlobFinish(svc_, ex);
    case kRouteAdminGc:
      return CollectGarbage(ex);
    case kRouteAdminFsck:
      return CheckStore(ex);
    case kRouteAdminImport:
      return Import(ex);
    case kRouteAdminUsage:
      return ReportUsage(ex);
    case kRouteToken:
      return TokenFinish(svc_, ex);
  }
  Fail(ex.res, Err::kInternal, "unexpected request body");
}

namespace {
// A maintenance report as the admin socket's answer.
template <typename Report>
void SendReport(Exchange& ex, const Result<Report>& report) {
  if (report.ok())
    ex.res.Set(200, "application/json", report->ToJson());
  else
    FailStorage(ex.res, report.status());
}
}  // namespace

void Registry::CollectGarbage(Exchange& ex) {
  bool dry_run = false, delete_untagged = false;
  ex.req.QueryParam("dry_run", &dry_run);
  ex.req.QueryParam("delete_untagged", &delete_untagged);
  auto report = std::make_shared<Result<GcReport>>(Internal("not run"));
  RunBlocking(
      ex, [this, dry_run, delete_untagged, report] { *report = Collect(dry_run, delete_untagged); },
      [&ex, report] { SendReport(ex, *report); });
}

void Registry::Import(Exchange& ex) {
  ImportOptions opt{ex.req.QueryParam("dir"), svc_.cfg.http.limits.max_manifest_bytes,
                    ex.req.QueryParam("cache")};
  auto report = std::make_shared<Result<ImportReport>>(Internal("not run"));
  RunBlocking(
      ex,
      [this, opt, report] {
        *report = RunImport(*svc_.blobs, *svc_.meta, svc_.gc_lock, opt);
        // The size cap counts what came in, from now on.
        if (report->ok() && (*report)->cached && svc_.proxy) svc_.proxy->evictor().Added((*report)->bytes);
      },
      [&ex, report] { SendReport(ex, *report); });
}

void Registry::ReportUsage(Exchange& ex) {
  const std::string prefix = ex.req.QueryParam("prefix");
  bool cached = false;
  ex.req.QueryParam("cached", &cached);
  auto report = std::make_shared<Result<UsageReport>>(Internal("not run"));
  RunBlocking(
      ex, [this, prefix, cached, report] { *report = RunUsage(*svc_.meta, svc_.cfg.storage.quotas, prefix, cached); },
      [&ex, report] { SendReport(ex, *report); });
}

void Registry::CheckStore(Exchange& ex) {
  bool repair = false;
  ex.req.QueryParam("repair", &repair);
  auto report = std::make_shared<Result<FsckReport>>(Internal("not run"));
  RunBlocking(
      ex, [this, repair, report] { *report = RunFsck(*svc_.blobs, *svc_.meta, svc_.gc_lock, repair); },
      [&ex, report] { SendReport(ex, *report); });
}

}  // namespace wharf::registry
