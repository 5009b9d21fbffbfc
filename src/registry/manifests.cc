// GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>
#include <functional>

#include "registry/blocking.h"
#include "registry/errors.h"
#include "registry/handlers.h"
#include "registry/headers.h"
#include "registry/immutable_tags.h"
#include "registry/manifest.h"
#include "registry/manifest_write.h"
#include "registry/names.h"
#include "registry/quota.h"
#include "registry/reference.h"
#include "util/log.h"

namespace wharf::registry {
namespace {

void Unknown(Services& s, http::Response& res, const std::string& repo) {
  if (!s.meta->RepoExists(repo))
    Fail(res, Err::kNameUnknown, "repository name not known to registry",
         "{\"name\":\"" + repo + "\"}");
  else
    Fail(res, Err::kManifestUnknown, "manifest unknown");
}

// The lookup of a manifest or tag record failed: answers the client (unknown,
// or the storage error) and returns true, or, for a plain miss the caller
// handles itself, answers nothing and returns false.
bool Missing(Services& s, http::Response& res, const std::string& repo, const Status& st,
             OnMiss on_miss) {
  if (st.code() != Code::kNotFound)
    FailStorage(res, st);
  else if (on_miss == OnMiss::kAnswerUnknown)
    Unknown(s, res, repo);
  else
    return false;
  return true;
}

// Reads manifest bytes from the cache or, on a miss, from the blob file.
std::shared_ptr<const std::string> LoadManifest(Services& s, const std::string& digest,
                                                uint64_t size) {
  if (auto hit = s.manifests->Get(digest)) return hit;
  auto read = s.blobs->ReadAll(digest);
  if (!read.ok() || read->size() != size) return nullptr;
  auto bytes = std::make_shared<const std::string>(std::move(*read));
  s.manifests->Put(digest, bytes);
  return bytes;
}

}  // namespace

bool ServeManifest(Services& s, http::Exchange& ex, const std::string& repo, const Reference& ref,
                   OnMiss on_miss, ManifestOutcome* outcome) {
  http::Response& res = ex.res;
  std::string digest, media_type;
  uint64_t size = 0;
  if (ref.is_digest) {
    digest = ref.digest.str();
    auto m = s.meta->GetManifest(repo, digest);
    if (!m.ok()) return Missing(s, res, repo, m.status(), on_miss);
    media_type = m->media_type;
    size = m->size;
  } else {
    auto t = s.meta->GetTag(repo, ref.tag);
    if (!t.ok()) return Missing(s, res, repo, t.status(), on_miss);
    digest = std::move(t->digest);
    media_type = std::move(t->media_type);
    size = t->size;
  }
  if (const std::string accept = ex.req.Joined("Accept"); !Accepts(accept, media_type)) {
    std::string entry;
    if (!ref.is_digest && IsIndexType(media_type)) {
      if (auto index = LoadManifest(s, digest, size)) entry = DefaultPlatformEntry(*index, accept);
    }
    if (entry.empty()) {
      Fail(res, Err::kManifestUnknown,
           "manifest is " + media_type + ", which the Accept header does not allow");
      return true;
    }
    auto m = s.meta->GetManifest(repo, entry);
    if (!m.ok()) {
      if (outcome && m.status().code() == Code::kNotFound) outcome->missing_entry = entry;
      return Missing(s, res, repo, m.status(), on_miss);
    }
    digest = std::move(entry);
    media_type = m->media_type;
    size = m->size;
  }
  const std::string etag = ETagOf(digest);
  const std::string* inm = ex.req.Find("If-None-Match");
  if (inm && NoneMatch(*inm, etag)) {
    res.status = 304;
  } else if (ex.req.IsHead()) {
    res.status = 200;
    res.content_length = size;
  } else {
    auto bytes = LoadManifest(s, digest, size);
    if (!bytes) {
      WLOG_ERROR("manifest %s of %s is recorded but unreadable", digest.c_str(), repo.c_str());
      Fail(res, Err::kManifestUnknown, "manifest unknown");
      return true;
    }
    res.status = 200;
    res.shared_body = std::move(bytes);
  }
  res.AddHeader("Content-Type", media_type);
  res.AddHeader("Docker-Content-Digest", digest);
  res.AddHeader("ETag", etag);
  if (outcome) outcome->served = std::move(digest);  // a 304 too: the client is using it
  return true;
}

namespace {

void Put(Services& s, http::Exchange& ex, const std::string& repo, const Reference& ref) {
  http::Response& res = ex.res;
  const std::string& body = ex.req.body;
  ParsedManifest m;
  ManifestError err;
  const std::string* ct = ex.req.Find("Content-Type");
  if (!ParseManifest(body, ct ? *ct : std::string(), &m, &err)) {
    Fail(res, err.code, err.message);
    return;
  }
  Digest digest = DigestOf(body, ref.is_digest ? ref.digest.algo : DigestAlgo::kSha256);
  if (ref.is_digest && !(digest == ref.digest)) {
    Fail(res, Err::kDigestInvalid, "manifest content has digest " + digest.str(),
         "{\"digest\":\"" + ref.digest.str() + "\"}");
    return;
  }
  for (const std::string& b : m.blobs) {
    if (!s.meta->LinkedSize(repo, b).ok()) {
      Fail(res, Err::kManifestBlobUnknown, "manifest references a blob unknown to this repository",
           "{\"digest\":\"" + b + "\"}");
      return;
    }
  }
  for (const std::string& c : m.children) {
    if (!s.meta->GetManifest(repo, c).ok()) {
      Fail(res, Err::kManifestBlobUnknown,
           "index references a manifest unknown to this repository",
           "{\"digest\":\"" + c + "\"}");
      return;
    }
  }
  storage::ManifestWrite w = ManifestWriteOf(repo, digest.str(), m, body.size(), storage::Origin::kPushed);
  if (!ref.is_digest) {
    w.tag = ref.tag;
    w.tag_fixed = TagImmutable(s.cfg.storage.immutable_tags, repo, ref.tag);
  }
  auto bytes = std::make_shared<const std::string>(body);
  auto st = std::make_shared<Status>();
  auto subject = m.subject;
  RunBlocking(
      ex,
      [&s, st, w, digest, bytes, refs = m.blobs, children = m.children] {
        std::shared_lock<std::shared_mutex> gc(s.gc_lock);
        // Checked again under the lock: gc may have swept since the first check.
        for (const auto& b : refs)
          if (!s.blobs->Exists(*Digest::Parse(b))) *st = NotFound(b);
        for (const auto& c : children)
          if (!s.meta->GetManifest(w.repo, c).ok()) *st = NotFound(c);
        if (!st->ok()) return;
        auto ticket = s.quotas->Admit(w.repo, w.digest, bytes->size());
        if (!ticket.ok()) {
          *st = ticket.status();
          return;
        }
        *st = s.blobs->Write(digest, *bytes);  // durable before the record
        if (st->ok()) *st = s.meta->PutManifest(w);
      },
      [&s, &ex, st, w, bytes, subject] {
        if (st->code() == Code::kNotFound) {
          Fail(ex.res, Err::kManifestBlobUnknown, "manifest references a blob that is gone",
               "{\"digest\":\"" + st->message() + "\"}");
          return;
        }
        if (st->code() == Code::kExists) {
          Fail(ex.res, Err::kDenied,
               "tag " + *w.tag + " is immutable (storage.immutable_tags) and points at " + st->message() +
                   ": push under a new tag",
               "{\"tag\":\"" + *w.tag + "\",\"digest\":\"" + st->message() + "\"}");
          return;
        }
        if (!st->ok()) {
          FailStorage(ex.res, *st);
          return;
        }
        s.manifests->Put(w.digest, bytes);
        ex.res.status = 201;
        ex.res.AddHeader("Location", "/v2/" + w.repo + "/manifests/" + w.digest);
        ex.res.AddHeader("Docker-Content-Digest", w.digest);
        if (!subject.empty()) ex.res.AddHeader("OCI-Subject", subject);
      });
}

// By digest: the manifest and its tags go. By tag: only the tag. Neither
// while an immutable tag would go.
void Delete(Services& s, http::Exchange& ex, const std::string& repo, const Reference& ref) {
  auto st = std::make_shared<Status>();
  RunBlocking(
      ex,
      [&s, st, repo, ref] {
        const std::vector<ImmutableTagRule>& rules = s.cfg.storage.immutable_tags;
        if (ref.is_digest) {
          std::function<bool(const std::string&)> fixed;
          if (!rules.empty()) fixed = [&rules, &repo](const std::string& tag) { return TagImmutable(rules, repo, tag); };
          *st = s.meta->DeleteManifest(repo, ref.digest.str(), fixed);
          return;
        }
        auto t = s.meta->GetTag(repo, ref.tag);
        if (!t.ok()) *st = t.status();
        else if (TagImmutable(rules, repo, ref.tag)) *st = Status(Code::kDenied, ref.tag);
        else *st = s.meta->DeleteTag(repo, ref.tag);
      },
      [&ex, st] {
        if (st->ok()) ex.res.status = 202;
        else if (st->code() == Code::kNotFound) Fail(ex.res, Err::kManifestUnknown, "manifest unknown");
        else if (st->code() == Code::kDenied)
          Fail(ex.res, Err::kDenied, "tag " + st->message() + " is immutable (storage.immutable_tags)",
               "{\"tag\":\"" + st->message() + "\"}");
        else FailStorage(ex.res, *st);
      });
}

}  // namespace

BodyMode ManifestBegin(Services& s, http::Exchange& ex) {
  Reference ref;
  if (!ParseReference(ex.req.params[1], &ref, ex.res)) return BodyMode::kRespond;
  if (ex.req.IsRead()) {
    ServeManifest(s, ex, std::string(ex.req.params[0]), ref);
    return BodyMode::kRespond;
  }
  if (ex.req.method == "DELETE") {
    if (!s.cfg.storage.delete_enabled) {
      Fail(ex.res, Err::kUnsupported, "deletion is disabled (storage.delete_enabled)");
      return BodyMode::kRespond;
    }
    ex.body_limit = 0;
    return BodyMode::kBuffer;
  }
  ex.body_limit = s.cfg.http.limits.max_manifest_bytes;
  return BodyMode::kBuffer;
}

void ManifestFinish(Services& s, http::Exchange& ex) {
  Reference ref;
  ParseReference(ex.req.params[1], &ref, ex.res);  // validated in ManifestBegin
  const std::string repo(ex.req.params[0]);
  if (ex.req.method == "PUT")
    Put(s, ex, repo, ref);
  else
    Delete(s, ex, repo, ref);
}

}  // namespace wharf::registry
