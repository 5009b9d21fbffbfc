#include "registry/proxy_service.h"

#include <algorithm>

#include "registry/image_ref.h"
#include "registry/manifest.h"
#include "registry/manifest_write.h"
#include "registry/services.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/repo_prefix.h"

namespace wharf::registry {
namespace {

constexpr int kMetaThreads = 8;

// A registry host name as containerd sends it in ?ns=: "ghcr.io", "host:5000".
bool ValidHost(const std::string& h) {
  if (h.empty() || h.size() > 253) return false;
  for (char c : h)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':'))
      return false;
  return h.find('.') != std::string::npos || h.find(':') != std::string::npos || h == "localhost";
}

// Whether a mirror at `url` is registry `name` itself: its own host, or one
// of Docker Hub's for docker.io.
bool IsRegistryHost(const std::string& name, const std::string& url) {
  auto u = proxy::Url::Parse(url);
  if (!u.ok()) return false;
  if (u->host == name || u->HostPort() == name) return true;
  return name == "docker.io" && IsDockerHubHost(u->host);
}

// The mirrors of registry `name`, each with the login it may be sent: its
// own, or else the registry's, which goes to the registry's own hosts or to
// the only mirror. A registry's login (a Docker Hub token, say) is never
// handed to a third-party mirror in front of it, nor to the token service
// that mirror names.
std::vector<proxy::MirrorSpec> MirrorSpecs(const std::string& name, const UpstreamRegistryConfig& r) {
  std::vector<proxy::MirrorSpec> out;
  for (const MirrorConfig& m : r.mirrors) {
    proxy::MirrorSpec spec{m.url, m.username, m.password};
    if (spec.username.empty() && !r.username.empty()) {
      if (r.mirrors.size() == 1 || IsRegistryHost(name, m.url)) {
        spec.username = r.username;
        spec.password = r.password;
      } else {
        WLOG_INFO("proxy %s: the registry's login is not sent to mirror %s; give that mirror its own "
                  "(proxy.registries.%s.mirrors: {\"url\", \"username\", \"password\"}) if it needs one",
                  name.c_str(), m.url.c_str(), name.c_str());
      }
    }
    out.push_back(std::move(spec));
  }
  return out;
}

// Whether `body`, answered for manifest `target` (a digest or a tag), is a
// manifest that matches the digest asked for and the one the upstream
// named. Fills *digest (of the body) and *m.
Status CheckManifest(const std::string& body, const std::string& target,
                     const proxy::ClientResponse& resp, Digest* digest, ParsedManifest* m) {
  auto want = Digest::Parse(target);
  *digest = DigestOf(body, want.ok() ? want->algo : DigestAlgo::kSha256);
  auto named = Digest::Parse(resp.Header("docker-content-digest"));
  if ((want.ok() && !(*digest == *want)) || (named.ok() && named->algo == digest->algo && !(*named == *digest)))
    return Status(Code::kUnavailable, "upstream manifest does not match its digest");
  ManifestError err;
  if (!ParseManifest(body, resp.Header("content-type"), m, &err))
    return Status(Code::kUnavailable, "upstream sent an invalid manifest: " + err.message);
  return Status();
}

}  // namespace

void UpstreamJob::WhenDone(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!done_) {
      waiters_.push_back(std::move(fn));
      return;
    }
  }
  fn();
}

void UpstreamJob::Finish(Status st, int upstream_status, std::string b, std::string ct) {
  std::vector<std::function<void()>> run;
  {
    std::lock_guard<std::mutex> lock(mu_);
    st_ = std::move(st);
    upstream_status_ = upstream_status;
    body = std::move(b);
    content_type = std::move(ct);
    done_ = true;
    run.swap(waiters_);
  }
  for (auto& fn : run) fn();
}

bool UpstreamJob::done() {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}

Status UpstreamJob::status() {
  std::lock_guard<std::mutex> lock(mu_);
  return st_;
}

int UpstreamJob::upstream_status() {
  std::lock_guard<std::mutex> lock(mu_);
  return upstream_status_;
}

std::unique_ptr<proxy::Upstream> ProxyService::MakeUpstream(proxy::UpstreamConfig uc) const {
  proxy::Timeouts t;
  t.connect_ms = static_cast<int>(cfg_.connect_timeout_seconds * 1000);
  t.first_byte_ms = static_cast<int>(cfg_.first_byte_timeout_seconds * 1000);
  t.stall_ms = static_cast<int>(cfg_.stall_timeout_seconds * 1000);
  return std::make_unique<proxy::Upstream>(std::move(uc), t,
                                           static_cast<int>(cfg_.unhealthy_seconds * 1000));
}

ProxyService::ProxyService(Services* s, const ProxyConfig& cfg) : s_(s), cfg_(cfg) {
  // Validated with the configuration; an error here means a caller skipped it.
  auto egress = proxy::Egress::Make(cfg.http_proxy, cfg.https_proxy, cfg.no_proxy);
  if (egress.ok())
    egress_ = std::make_shared<const proxy::Egress>(std::move(*egress));
  else
    WLOG_ERROR("proxy: forward proxy settings ignored: %s", egress.status().message().c_str());
  for (const auto& [name, r] : cfg.registries)
    upstreams_[name] = MakeUpstream({name, MirrorSpecs(name, r), r.ca_file, egress_});
  evictor_ = std::make_unique<Evictor>(s, cfg.cache_max_bytes, cfg.cache_max_idle_seconds,
                                       s->stats->cached_bytes(), &metrics_);
  blob_pool_ = std::make_unique<proxy::FetchPool>(static_cast<int>(cfg.fetch_threads));
  meta_pool_ = std::make_unique<proxy::FetchPool>(kMetaThreads);
  // Mirrors are probed now rather than on the first client's time.
  for (auto& [name, up] : upstreams_)
    for (size_t i = 0; i < up->mirror_count(); ++i) meta_pool_->Run(name, [u = up.get(), i] { u->Probe(i); });
  blob_fetcher_ = std::make_unique<proxy::BlobFetcher>(
      s->blobs.get(), s->meta.get(), s->hashing.get(), blob_pool_.get(), &metrics_,
      [this](const std::string&, uint64_t size) {
        evictor_->Added(size);
        evictor_->MaybeEvict();
      },
      [this](uint64_t bytes) { return evictor_->MakeRoom(bytes); });
}

ProxyService::~ProxyService() {
  // Jobs finish before the stores they use go away; no client waits for
  // them any more, so upstream calls are cut rather than waited out.
  for (auto& [name, up] : upstreams_) up->Abort();
  blob_pool_.reset();
  meta_pool_.reset();
}

proxy::Upstream* ProxyService::Route(const http::Request& req, std::string* repo) {
  proxy::Upstream* up = Pick(req, repo);
  // Docker Hub's official images live under library/, and every docker.io
  // client fills it in ("docker pull alpine"): so does the mirror, for a
  // client that names one without it ("docker pull mirror:5000/alpine").
  if (up && up->name() == kDockerHub && repo->find('/') == std::string::npos)
    repo->insert(0, "library/");
  return up;
}

bool ProxyService::Allowed(const proxy::Upstream& up, std::string_view repo) const {
  auto it = cfg_.registries.find(up.name());
  if (it == cfg_.registries.end() || it->second.allow.empty()) return true;
  const auto& allow = it->second.allow;
  return std::any_of(allow.begin(), allow.end(), [&](const std::string& p) { return InRepoPrefix(repo, p); });
}

proxy::Upstream* ProxyService::Pick(const http::Request& req, std::string* repo) {
  bool has_ns = false;
  std::string ns = req.QueryParam("ns", &has_ns);
  if (!has_ns) {
    // The path-prefix form: /v2/<registry-host>/<repo>/...
    size_t slash = repo->find('/');
    if (slash != std::string::npos) {
      auto it = upstreams_.find(repo->substr(0, slash));
      if (it != upstreams_.end()) {
        *repo = repo->substr(slash + 1);
        return it->second.get();
      }
    }
    ns = cfg_.default_registry;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = upstreams_.find(ns);
    if (it != upstreams_.end()) return it->second.get();
    if (!cfg_.allow_unknown_registries || !ValidHost(ns)) return nullptr;
    auto& up = upstreams_[ns];
    up = MakeUpstream({ns, {proxy::MirrorSpec{"https://" + ns, "", ""}}, "", egress_});
    return up.get();
  }
}

bool ProxyService::Fresh(const std::string& store_repo, const std::string& tag, bool* negative) {
  std::lock_guard<std::mutex> lock(mu_);
  *negative = false;
  auto it = fresh_.find(store_repo + '\0' + tag);
  if (it == fresh_.end()) return false;
  const int64_t now = MonotonicMs();
  if (it->second.negative_until_ms > now) {
    *negative = true;
    return true;
  }
  return now - it->second.checked_ms < int64_t{cfg_.manifest_ttl_seconds} * 1000;
}

std::shared_ptr<UpstreamJob> ProxyService::Coalesce(const proxy::Upstream* up, const std::string& key,
                                                    std::function<void(UpstreamJob&)> work) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(key);
  if (it != jobs_.end()) {
    proxy::ProxyMetrics::Add(metrics_.coalesced);
    return it->second;
  }
  auto job = std::make_shared<UpstreamJob>();
  jobs_[key] = job;
  meta_pool_->Run(up->name(), [this, key, job, work = std::move(work)] {
    work(*job);  // calls job->Finish()
    std::lock_guard<std::mutex> l(mu_);
    jobs_.erase(key);
  });
  return job;
}

std::shared_ptr<UpstreamJob> ProxyService::HeadBlob(proxy::Upstream* up, const std::string& repo,
                                                    const Digest& d) {
  return Coalesce(up, "head|" + up->name() + "|" + repo + "|" + d.str(), [up, repo, d](UpstreamJob& job) {
    proxy::FetchOptions opt;
    proxy::ClientResponse resp;
    Status st = up->Fetch("HEAD", repo, "/v2/" + repo + "/blobs/" + d.str(), opt, &resp,
                          [](std::string_view) { return Status(); });
    job.Finish(st, resp.status, resp.has_length ? std::to_string(resp.content_length) : "");
  });
}

std::shared_ptr<UpstreamJob> ProxyService::PassThrough(proxy::Upstream* up, const std::string& repo,
                                                       const std::string& path) {
  return Coalesce(up, "get|" + up->name() + "|" + path, [up, repo, path](UpstreamJob& job) {
    proxy::FetchOptions opt;
    proxy::ClientResponse resp;
    std::string body;
    Status st = up->Fetch("GET", repo, path, opt, &resp, [&](std::string_view d) {
      if (body.size() + d.size() > (4 << 20)) return Status(Code::kTooLarge, "answer too large");
      body.append(d);
      return Status();
    });
    job.Finish(st, resp.status, std::move(body), resp.Header("content-type"));
  });
}

std::string ProxyService::RenderMetrics() {
  std::string out = metrics_.Render();
  out += "# HELP wharf_proxy_mirror_healthy 1 if the mirror is in use, 0 while it is skipped.\n"
         "# TYPE wharf_proxy_mirror_healthy gauge\n";
  std::vector<std::pair<std::string, proxy::Upstream::MirrorState>> mirrors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [name, up] : upstreams_)
      for (auto& m : up->Mirrors()) mirrors.emplace_back(name, std::move(m));
  }
  auto label = [](const std::string& registry, const proxy::Upstream::MirrorState& m) {
    return "{registry=\"" + registry + "\",mirror=\"" + m.origin + "\"} ";
  };
  for (const auto& [name, m] : mirrors)
    out += "wharf_proxy_mirror_healthy" + label(name, m) + (m.healthy ? "1" : "0") + "\n";
  // Only for mirrors that announce a rate limit (Docker Hub): an alert on
  // "remaining" fires before pulls start failing with 429.
  auto gauge = [&](const std::string& metric, const char* help,
                   int64_t proxy::Upstream::MirrorState::*field) {
    bool any = false;
    for (const auto& [name, m] : mirrors) {
      if (m.*field < 0) continue;
      if (!any) out += "# HELP " + metric + " " + help + "\n# TYPE " + metric + " gauge\n";
      any = true;
      out += metric + label(name, m) + std::to_string(m.*field) + "\n";
    }
  };
  gauge("wharf_proxy_mirror_ratelimit_limit", "Pulls the mirror allows per window (its RateLimit-Limit).",
        &proxy::Upstream::MirrorState::ratelimit_limit);
  gauge("wharf_proxy_mirror_ratelimit_remaining",
        "Pulls left in the mirror's window (its latest RateLimit-Remaining).",
        &proxy::Upstream::MirrorState::ratelimit_remaining);
  return out;
}

std::shared_ptr<UpstreamJob> ProxyService::Manifest(proxy::Upstream* up, const std::string& repo,
                                                    const Reference& ref) {
  proxy::ProxyMetrics::Add(metrics_.misses);
  return Coalesce(up, "manifest|" + up->name() + "|" + repo + "|" + ref.str(),
                  [this, up, repo, ref](UpstreamJob& job) { FetchManifest(up, repo, ref, job); });
}

Status ProxyService::StoreManifest(const std::string& store_repo, const std::string& tag,
                                   const std::string& body, const ParsedManifest& m,
                                   const Digest& digest) {
  WHARF_RETURN_IF_ERROR(s_->blobs->Write(digest, body));
  storage::ManifestWrite w = ManifestWriteOf(store_repo, digest.str(), m, body.size(), storage::Origin::kCached);
  if (!tag.empty()) w.tag = tag;
  return s_->meta->PutManifest(w);
}

void ProxyService::FetchManifest(proxy::Upstream* up, const std::string& repo, const Reference& ref,
                                 UpstreamJob& job) {
  job.reference = ref.str();
  const std::string store = StoreRepo(*up, repo);
  const std::string fresh_key = store + '\0' + ref.tag;
  proxy::FetchOptions opt;
  opt.headers.emplace_back("Accept", media::kAnyManifest);
  proxy::ClientResponse resp;
  auto discard = [](std::string_view) { return Status(); };
  std::string target = ref.str();
  std::optional<storage::TagRecord> cached;
  if (!ref.is_digest) {
    if (auto t = s_->meta->GetTag(store, ref.tag); t.ok()) cached = *t;
    if (cached) proxy::ProxyMetrics::Add(metrics_.revalidations);
    Status st = up->Fetch("HEAD", repo, "/v2/" + repo + "/manifests/" + ref.tag, opt, &resp, discard);
    if (st.ok() && resp.status == 404) {
      std::lock_guard<std::mutex> lock(mu_);
      fresh_[fresh_key].negative_until_ms = MonotonicMs() + int64_t{cfg_.negative_ttl_seconds} * 1000;
      job.Finish(Status(), 404);
      return;
    }
    if (st.ok() && (resp.status == 401 || resp.status == 403)) {
      // Docker Hub says 401 for repositories that do not exist (or that our
      // credentials do not reach): the client sees MANIFEST_UNKNOWN.
      WLOG_INFO("proxy %s: %s:%s: upstream refused access (%d)", up->name().c_str(), repo.c_str(),
                ref.tag.c_str(), resp.status);
      job.Finish(Status(), resp.status);
      return;
    }
    if (!st.ok() || resp.status != 200) {
      if (cached) {
        WLOG_WARN("proxy %s: %s:%s: upstream unavailable (%s); serving the cached copy",
                  up->name().c_str(), repo.c_str(), ref.tag.c_str(),
                  st.ok() ? std::to_string(resp.status).c_str() : st.message().c_str());
        job.stale = true;
        proxy::ProxyMetrics::Add(metrics_.stale_serves);
        job.Finish(Status(), 200);
      } else {
        job.Finish(st.ok() ? Status(Code::kUnavailable, "upstream answered " + std::to_string(resp.status)) : st,
                   resp.status);
      }
      return;
    }
    std::string dg = resp.Header("docker-content-digest");
    if (cached && !dg.empty() && dg == cached->digest) {
      std::lock_guard<std::mutex> lock(mu_);
      fresh_[fresh_key] = Freshness{MonotonicMs(), 0};
      job.Finish(Status(), 200);
      return;
    }
    if (Digest::Parse(dg).ok()) target = dg;
  }
  std::string body, served_by;
  Digest got;
  ParsedManifest parsed;
  // A mirror can answer 200 with something other than the manifest: a dead
  // mirror's HTML page, or bytes that do not match their digest. That mirror
  // is skipped, as one whose blob failed its digest, and the next one asked.
  for (size_t tries = 1;; ++tries) {
    body.clear();
    Status st = up->Fetch("GET", repo, "/v2/" + repo + "/manifests/" + target, opt, &resp,
                          [&](std::string_view d) {
                            if (body.size() + d.size() > s_->cfg.http.limits.max_manifest_bytes)
                              return Status(Code::kTooLarge, "upstream manifest too large");
                            body.append(d);
                            return Status();
                          },
                          &served_by);
    if (st.ok() && resp.status == 200) {
      proxy::ProxyMetrics::Add(metrics_.upstream_bytes, body.size());
      st = CheckManifest(body, target, resp, &got, &parsed);
      if (st.ok()) break;
      WLOG_ERROR("proxy %s: %s:%s from %s: %s; not stored", up->name().c_str(), repo.c_str(),
                 target.c_str(), served_by.c_str(), st.message().c_str());
      up->MarkBad(served_by);
      if (tries < up->mirror_count()) continue;
      resp.status = 502;
    }
    if (cached) {
      job.stale = true;
      proxy::ProxyMetrics::Add(metrics_.stale_serves);
      job.Finish(Status(), 200);
    } else {
      job.Finish(st, resp.status);
    }
    return;
  }
  Status st = StoreManifest(store, ref.is_digest ? std::string() : ref.tag, body, parsed, got);
  if (st.ok() && !ref.is_digest) {
    std::lock_guard<std::mutex> lock(mu_);
    fresh_[fresh_key] = Freshness{MonotonicMs(), 0};
  }
  job.Finish(st, 200);
}

}  // namespace wharf::registry
