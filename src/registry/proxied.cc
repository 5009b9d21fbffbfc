// Reads of repositories that are not hosted here: served from the cache or
// pulled through from the upstream registry (see proxy_service.h).
#include "registry/proxied.h"

#include <cstdint>
#include <nlohmann/json.hpp>

#include "registry/errors.h"
#include "registry/handlers.h"
#include "registry/routes.h"
#include "util/log.h"

namespace wharf::registry {
namespace {

using BodyMode = http::Handler::BodyMode;

// Pauses the exchange until `when_done(fn)` calls fn (on any thread).
template <class Job>
BodyMode WaitFor(http::Exchange& ex, const std::shared_ptr<Job>& job,
                 void (Job::*when)(std::function<void()>)) {
  ex.scratch = job;
  http::LoopPoster* poster = ex.poster;
  http::Exchange* e = &ex;
  ((*job).*when)([poster, e] { poster->Post([e] { e->Resume(); }); });
  return BodyMode::kPause;
}

// `upstream_status`: the last answer a mirror gave (0: none answered). A
// rate limit (Docker Hub's 429 for anonymous pulls) is passed on as one, so
// that `docker pull` and the kubelet show its cause instead of a 502, with
// what is left of the upstream's Retry-After.
void UpstreamFailed(http::Response& res, proxy::Upstream& up, int upstream_status, const std::string& why) {
  if (upstream_status != 429) {
    Fail(res, Err::kUpstreamUnavailable, "upstream registry unavailable: " + why);
    return;
  }
  Fail(res, Err::kTooManyRequests, "upstream registry rate limit: " + why);
  if (int64_t secs = up.RetryAfterSeconds()) res.AddHeader("Retry-After", std::to_string(secs));
}

void UpstreamFailed(http::Response& res, proxy::Upstream& up, UpstreamJob& job) {
  UpstreamFailed(res, up, job.upstream_status(),
                 job.status().ok() ? std::to_string(job.upstream_status()) : job.status().message());
}

// Upstreams answer 401/403 for repositories they do not have (Docker Hub
// does): to a client of the mirror that is "unknown", not an outage.
bool Unknown(int upstream_status) {
  return upstream_status == 404 || upstream_status == 401 || upstream_status == 403;
}

BodyMode Blob(Services& s, http::Exchange& ex, proxy::Upstream* up, const std::string& repo,
              const std::string& store) {
  auto d = Digest::Parse(ex.req.params[1]);
  if (!d.ok()) {
    Fail(ex.res, Err::kDigestInvalid, d.status().message());
    return BodyMode::kRespond;
  }
  // A resumed exchange (its upstream work in ex.scratch) looked already:
  // one metadata read per request.
  if (!ex.scratch) {
    if (auto linked = s.meta->LinkedSize(store, d->str()); linked.ok()) {
      proxy::ProxyMetrics::Add(s.proxy->metrics().hits);
      s.proxy->evictor().Touch(d->str());
      if (ServeBlob(s, ex, store, *d, *linked)) return BodyMode::kRespond;
      // Quarantined as damaged: fetch it again, as on any miss.
    }
  }
  const std::string dg = d->str();
  if (ex.req.IsHead()) {
    // Answered from the upstream's HEAD: nothing is downloaded.
    auto job = std::static_pointer_cast<UpstreamJob>(ex.scratch);
    if (!job) return WaitFor(ex, s.proxy->HeadBlob(up, repo, *d), &UpstreamJob::WhenDone);
    if (!job->done()) return WaitFor(ex, job, &UpstreamJob::WhenDone);
    if (job->status().ok() && job->upstream_status() == 200) {
      ex.res.status = 200;
      if (!job->body.empty()) ex.res.content_length = std::stoull(job->body);
      ex.res.AddHeader("Content-Type", "application/octet-stream");
      ex.res.AddHeader("Docker-Content-Digest", dg);
    } else if (job->status().ok() && Unknown(job->upstream_status())) {
      Fail(ex.res, Err::kBlobUnknown, "blob unknown to registry");
    } else {
      UpstreamFailed(ex.res, *up, *job);
    }
    return BodyMode::kRespond;
  }
  auto fetch = std::static_pointer_cast<proxy::BlobFetch>(ex.scratch);
  if (!fetch) fetch = s.proxy->blobs().Get(up, repo, store, *d);
  if (fetch->state() == proxy::BlobFetch::State::kWaiting)
    return WaitFor(ex, fetch, &proxy::BlobFetch::WhenReady);
  if (fetch->state() == proxy::BlobFetch::State::kFailed) {
    if (Unknown(fetch->upstream_status()))
      Fail(ex.res, Err::kBlobUnknown, "blob unknown to registry");
    else if (fetch->storage_full())
      FailStorage(ex.res, Status(Code::kNoSpace, fetch->error()));
    else
      UpstreamFailed(ex.res, *up, fetch->upstream_status(), fetch->error());
    return BodyMode::kRespond;
  }
  // Streaming: headers now, bytes as they arrive; a Range (containerd
  // resuming a cut download) starts its answer as soon as that part is in.
  uint64_t offset = 0, length = 0;
  const int status = PlanBlobBody(ex.req, fetch->file()->length(), dg, ex.res, &offset, &length);
  if (status == 200 || status == 206) ex.res.SetStream(status, fetch->file(), offset, length);
  // Runs after this turn has written the head: the fill may go on.
  ex.poster->Post([fetch] { fetch->HeadSent(); });
  return BodyMode::kRespond;
}

// A manifest answered from the cache counts as a hit, unless storage failed,
// and as a pull for the idle clock (proxy.cache_max_idle).
BodyMode AnsweredFromCache(Services& s, http::Exchange& ex, const std::string& digest) {
  if (ex.res.status < 500) proxy::ProxyMetrics::Add(s.proxy->metrics().hits);
  if (!digest.empty()) s.proxy->evictor().Touch(digest);
  return BodyMode::kRespond;
}

// A tag whose index the client cannot take is answered with one entry of
// it (ServeManifest), which may have to be fetched by digest first.
Reference EntryReference(const std::string& digest) {
  Reference ref;
  ref.is_digest = true;
  ref.digest = *Digest::Parse(digest);  // DefaultPlatformEntry checked it
  return ref;
}

BodyMode Manifest(Services& s, http::Exchange& ex, proxy::Upstream* up, const std::string& repo,
                  const std::string& store) {
  Reference ref;
  if (!ParseReference(ex.req.params[1], &ref, ex.res)) return BodyMode::kRespond;
  auto job = std::static_pointer_cast<UpstreamJob>(ex.scratch);
  if (!job) {
    // By digest: immutable, so a cached copy needs no revalidation.
    ManifestOutcome got;
    if (ref.is_digest && ServeManifest(s, ex, store, ref, OnMiss::kLeaveUnanswered, &got))
      return AnsweredFromCache(s, ex, got.served);
    bool negative = false;
    if (!ref.is_digest && s.proxy->Fresh(store, ref.tag, &negative)) {
      if (negative) {
        Fail(ex.res, Err::kManifestUnknown, "manifest unknown");
        return BodyMode::kRespond;
      }
      if (ServeManifest(s, ex, store, ref, OnMiss::kLeaveUnanswered, &got))
        return AnsweredFromCache(s, ex, got.served);
    }
    job = s.proxy->Manifest(up, repo, got.missing_entry.empty() ? ref : EntryReference(got.missing_entry));
  }
  if (!job->done()) return WaitFor(ex, job, &UpstreamJob::WhenDone);
  if (job->status().ok() && job->upstream_status() == 200) {
    ManifestOutcome got;
    if (!ServeManifest(s, ex, store, ref, OnMiss::kLeaveUnanswered, &got)) {
      // The tag is in; the entry its client needs may not be yet.
      if (!got.missing_entry.empty() && got.missing_entry != job->reference)
        return WaitFor(ex, s.proxy->Manifest(up, repo, EntryReference(got.missing_entry)),
                       &UpstreamJob::WhenDone);
      Fail(ex.res, Err::kManifestUnknown, "manifest unknown");
    }
    if (!got.served.empty()) s.proxy->evictor().Touch(got.served);  // revalidated: still in use
    if (job->stale) ex.res.AddHeader("Warning", "110 wharf \"Response is Stale\"");
  } else if (job->status().ok() && Unknown(job->upstream_status())) {
    Fail(ex.res, Err::kManifestUnknown, "manifest unknown");
  } else {
    UpstreamFailed(ex.res, *up, *job);
  }
  return BodyMode::kRespond;
}

BodyMode PassThrough(Services& s, http::Exchange& ex, proxy::Upstream* up, const std::string& repo,
                     const std::string& path) {
  auto job = std::static_pointer_cast<UpstreamJob>(ex.scratch);
  if (!job) job = s.proxy->PassThrough(up, repo, path);
  if (!job->done()) return WaitFor(ex, job, &UpstreamJob::WhenDone);
  if (job->status().ok() && job->upstream_status() == 200) {
    ex.res.Set(200, job->content_type.empty() ? "application/json" : job->content_type, job->body);
  } else if (job->status().ok() && Unknown(job->upstream_status())) {
    Fail(ex.res, Err::kNameUnknown, "repository name not known to registry");
  } else {
    UpstreamFailed(ex.res, *up, *job);
  }
  return BodyMode::kRespond;
}

// Tags of a proxied repository: the upstream's merged with what is cached
// (proxy.tags_list = merge), or only what is cached (local). If the upstream
// cannot answer, the cached tags are still listed.
BodyMode Tags(Services& s, http::Exchange& ex, proxy::Upstream* up, const std::string& repo,
              const std::string& store) {
  std::vector<std::string> tags;
  bool more = false;
  Status st = s.meta->ListTags(store, "", SIZE_MAX, &tags, &more);
  if (!st.ok()) {
    FailStorage(ex.res, st);
    return BodyMode::kRespond;
  }
  bool upstream_knows = false;
  if (s.cfg.proxy.tags_list == "merge") {
    auto job = std::static_pointer_cast<UpstreamJob>(ex.scratch);
    if (!job) job = s.proxy->PassThrough(up, repo, "/v2/" + repo + "/tags/list");
    if (!job->done()) return WaitFor(ex, job, &UpstreamJob::WhenDone);
    if (job->status().ok() && job->upstream_status() == 200) {
      auto j = nlohmann::json::parse(job->body, nullptr, false);
      if (j.is_object() && j.contains("tags") && j["tags"].is_array()) {
        upstream_knows = true;
        for (const auto& t : j["tags"])
          if (t.is_string()) tags.push_back(t.get<std::string>());
      }
    }
  }
  if (tags.empty() && !upstream_knows && !s.meta->RepoExists(store)) {
    Fail(ex.res, Err::kNameUnknown, "repository name not known to registry");
    return BodyMode::kRespond;
  }
  SendTags(ex, std::string(ex.req.params[0]), std::move(tags));  // the name as the client gave it
  return BodyMode::kRespond;
}

}  // namespace

BodyMode ProxiedBegin(Services& s, http::Exchange& ex, proxy::Upstream* up, const std::string& repo) {
  const std::string store = ProxyService::StoreRepo(*up, repo);
  switch (ex.req.route) {
    case kRouteBlob:
      return Blob(s, ex, up, repo, store);
    case kRouteManifest:
      return Manifest(s, ex, up, repo, store);
    case kRouteTags:
      return Tags(s, ex, up, repo, store);
    case kRouteReferrers: {
      auto d = Digest::Parse(ex.req.params[1]);
      if (!d.ok()) {
        Fail(ex.res, Err::kDigestInvalid, d.status().message());
        return BodyMode::kRespond;
      }
      return PassThrough(s, ex, up, repo, "/v2/" + repo + "/referrers/" + d->str());
    }
  }
  Fail(ex.res, Err::kInternal, "not a proxied route");
  return BodyMode::kRespond;
}

}  // namespace wharf::registry
