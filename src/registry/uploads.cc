// POST/PATCH/PUT/GET/DELETE /v2/<name>/blobs/uploads/...
#include <functional>
#include <optional>

#include "registry/blocking.h"
#include "registry/errors.h"
#include "registry/handlers.h"
#include "registry/hosted_rule.h"
#include "registry/names.h"
#include "registry/quota.h"
#include "registry/range.h"
#include "registry/upload_sink.h"

namespace wharf::registry {
namespace {

using storage::Upload;

void UploadHeaders(http::Response& res, const std::string& repo, const std::string& uuid,
                   uint64_t size) {
  res.AddHeader("Location", "/v2/" + repo + "/blobs/uploads/" + uuid);
  res.AddHeader("Range", "0-" + std::to_string(size ? size - 1 : 0));
  res.AddHeader("Docker-Upload-UUID", uuid);
}

void BlobCreated(http::Response& res, const std::string& repo, const std::string& digest) {
  res.status = 201;
  res.AddHeader("Location", "/v2/" + repo + "/blobs/" + digest);
  res.AddHeader("Docker-Content-Digest", digest);
}

// The result of `check`, which reads metadata and so runs off the loop
// before a Begin goes on: null while it runs (the exchange is paused, and
// Begin runs again), then the result, which ex.scratch keeps. On the upload
// routes nothing else uses ex.scratch, and a Begin runs one such check.
template <typename T>
const T* CheckedOffTheLoop(http::Exchange& ex, std::function<T()> check) {
  if (ex.scratch) return &**static_cast<const std::optional<T>*>(ex.scratch.get());
  auto out = std::make_shared<std::optional<T>>();
  ex.scratch = out;
  RunBlocking(ex, [out, check = std::move(check)] { *out = check(); }, [] {});
  return nullptr;
}

// The cap of an upload request's body (see UploadSink): none without a
// body or outside a quota; under a quota, taken off the loop first (null
// while that runs, see CheckedOffTheLoop).
const Result<UploadCap>* CapFor(Services& s, http::Exchange& ex, const std::string& repo) {
  static const Result<UploadCap> kNone = UploadCap{};
  if (!(ex.req.chunked || ex.req.content_length > 0) || !HostedRuleFor(s.cfg.storage.quotas, repo))
    return &kNone;
  QuotaGate* gate = s.quotas.get();
  return CheckedOffTheLoop<Result<UploadCap>>(ex, [gate, repo] { return gate->UploadCapFor(repo); });
}

// Streams the request body into `u` (see UploadSink). A request that
// announces its length is checked against the size cap and its quota before
// its body is read, and its writes go into disk space reserved ahead of them.
BodyMode StreamInto(Services& s, http::Exchange& ex, std::shared_ptr<Upload> u, bool ephemeral,
                    const UploadCap& cap) {
  const uint64_t announced = ex.req.has_content_length ? ex.req.content_length : 0;
  if (Status over = cap.Check(u->size + announced); !over.ok()) {
    (void)s.uploads->Cancel(u);  // it could never complete
    FailStorage(ex.res, over);
    return BodyMode::kRespond;
  }
  Status st = s.uploads->Expect(*u, announced);
  auto sink = std::make_unique<UploadSink>(s, ex, std::move(u), ephemeral, announced, cap);
  // No room for the start of it: unless cached blobs can make way for all
  // of it (the sink's first write has them evicted), say so before the
  // client sends the body.
  if (!st.ok() && !(st.code() == Code::kNoSpace && s.proxy && s.proxy->evictor().CouldMakeRoom(announced))) {
    FailAppend(ex.res, st);
    return BodyMode::kRespond;  // the sink releases (or discards) the upload
  }
  ex.sink = std::move(sink);
  return BodyMode::kStream;
}

// Verifies and stores an upload off the loop, then answers 201 or the error.
void CommitUpload(Services& s, http::Exchange& ex, std::shared_ptr<Upload> u, Digest want) {
  auto st = std::make_shared<Status>();
  RunBlocking(
      ex,
      [&s, u, want, st] {
        auto ticket = s.quotas->Admit(u->repo, want.str(), u->size);
        *st = ticket.ok() ? s.uploads->Commit(u, want) : ticket.status();
      },
      [&s, &ex, u, want, st] {
        // Refused by the quota, the upload could only wait to expire.
        if (st->code() == Code::kDenied)
          (void)s.uploads->Cancel(u);
        else
          s.uploads->Release(u);
        if (st->ok())
          BlobCreated(ex.res, u->repo, want.str());
        else if (st->code() == Code::kInvalid)
          Fail(ex.res, Err::kDigestInvalid, "provided digest did not match uploaded content: " +
                                                st->message(),
               "{\"digest\":\"" + want.str() + "\"}");
        else
          FailStorage(ex.res, *st);
      });
}

// Parses the required ?digest= of a completing request.
bool WantDigest(http::Exchange& ex, Digest* out) {
  bool has = false;
  std::string v = ex.req.QueryParam("digest", &has);
  if (!has) {
    Fail(ex.res, Err::kDigestInvalid, "the digest query parameter is required");
    return false;
  }
  auto d = Digest::Parse(v);
  if (!d.ok()) {
    Fail(ex.res, Err::kDigestInvalid, d.status().message());
    return false;
  }
  *out = *d;
  return true;
}

}  // namespace

BodyMode UploadStartBegin(Services& s, http::Exchange& ex) {
  http::Request& req = ex.req;
  const std::string repo(req.params[0]);
  bool has_mount = false;
  std::string mount = req.QueryParam("mount", &has_mount);
  if (has_mount) {
    auto d = Digest::Parse(mount);
    if (!d.ok()) {
      Fail(ex.res, Err::kDigestInvalid, d.status().message());
      return BodyMode::kRespond;
    }
    std::string from = req.QueryParam("from");
    if (!from.empty() && ValidName(from) && s.meta->LinkedSize(from, d->str()).ok()) {
      ex.body_limit = 0;
      return BodyMode::kBuffer;  // UploadStartFinish links it off the loop
    }
    // Not mountable: fall back to a new upload session (202), as the spec asks.
  }
  bool monolithic = false;
  req.QueryParam("digest", &monolithic);
  Digest want;
  if (monolithic && !WantDigest(ex, &want)) return BodyMode::kRespond;
  const Result<UploadCap>* cap = nullptr;
  if (monolithic) {
    cap = CapFor(s, ex, repo);
    if (!cap) return BodyMode::kPause;
    if (!cap->ok()) {
      FailStorage(ex.res, cap->status());
      return BodyMode::kRespond;
    }
  } else if (HostedRuleFor(s.cfg.storage.quotas, repo)) {
    // A session in a full quota is refused before the client sends the blob.
    QuotaGate* gate = s.quotas.get();
    const Status* room = CheckedOffTheLoop<Status>(ex, [gate, repo] { return gate->CheckRoom(repo); });
    if (!room) return BodyMode::kPause;
    if (!room->ok()) {
      FailStorage(ex.res, *room);
      return BodyMode::kRespond;
    }
  }
  auto u = s.uploads->Start(repo);
  if (!u.ok()) {
    FailStorage(ex.res, u.status());
    return BodyMode::kRespond;
  }
  if (monolithic) return StreamInto(s, ex, *u, /*ephemeral=*/true, **cap);
  ex.res.status = 202;
  UploadHeaders(ex.res, repo, (*u)->uuid, 0);
  s.uploads->Release(*u);
  return BodyMode::kRespond;
}

void UploadStartFinish(Services& s, http::Exchange& ex) {
  if (ex.sink) {  // monolithic POST ?digest=
    Digest want = *Digest::Parse(ex.req.QueryParam("digest"));
    CommitUpload(s, ex, static_cast<UploadSink*>(ex.sink.get())->Take(), want);
    return;
  }
  // Cross-repository mount.
  const std::string repo(ex.req.params[0]);
  const std::string from = ex.req.QueryParam("from");
  const std::string digest = Digest::Parse(ex.req.QueryParam("mount"))->str();
  auto st = std::make_shared<Status>();
  RunBlocking(
      ex,
      [&s, st, repo, from, digest] {
        std::shared_lock<std::shared_mutex> gc(s.gc_lock);
        auto size = s.meta->LinkedSize(from, digest);
        if (size.ok() && !s.blobs->Exists(*Digest::Parse(digest))) size = NotFound(digest);
        if (!size.ok()) {
          *st = size.status();
          return;
        }
        auto ticket = s.quotas->Admit(repo, digest, *size);
        *st = ticket.ok() ? s.meta->CommitBlob(repo, digest, *size, storage::Origin::kPushed, "") : ticket.status();
      },
      [&ex, st, repo, digest] {
        if (st->ok())
          BlobCreated(ex.res, repo, digest);
        else if (st->code() == Code::kNotFound)  // unlinked meanwhile
          Fail(ex.res, Err::kBlobUnknown, "blob unknown to registry");
        else
          FailStorage(ex.res, *st);
      });
}

BodyMode UploadBegin(Services& s, http::Exchange& ex) {
  http::Request& req = ex.req;
  http::Response& res = ex.res;
  const std::string repo(req.params[0]);
  const std::string uuid(req.params[1]);
  if (req.method == "GET") {
    auto size = s.uploads->Size(repo, uuid);
    if (!size.ok()) {
      Fail(res, Err::kBlobUploadUnknown, "blob upload unknown to registry");
      return BodyMode::kRespond;
    }
    res.status = 204;
    UploadHeaders(res, repo, uuid, *size);
    return BodyMode::kRespond;
  }
  // Taken before the upload is acquired: Begin runs again after it.
  const Result<UploadCap>* cap = CapFor(s, ex, repo);
  if (!cap) return BodyMode::kPause;
  if (!cap->ok()) {
    FailStorage(res, cap->status());
    return BodyMode::kRespond;
  }
  auto u = s.uploads->Acquire(repo, uuid);
  if (!u.ok()) {
    if (u.status().code() == Code::kUnavailable)
      Fail(res, Err::kBusy, u.status().message());
    else
      Fail(res, Err::kBlobUploadUnknown, "blob upload unknown to registry");
    return BodyMode::kRespond;
  }
  if (req.method == "DELETE") {
    (void)s.uploads->Cancel(*u);
    res.status = 204;
    return BodyMode::kRespond;
  }
  // PATCH (a chunk, or a stream without Content-Range) or PUT (complete).
  if (const std::string* cr = req.Find("Content-Range")) {
    ByteRange r;
    const char* problem = nullptr;
    Err code = Err::kBlobUploadInvalid;
    if (!ParseContentRange(*cr, &r)) {
      problem = "malformed Content-Range";
    } else if (r.first != (*u)->size) {
      problem = "chunk out of order: it must start at the current upload size";
      code = Err::kRangeInvalid;
    } else if (req.has_content_length && req.content_length != r.length()) {
      problem = "Content-Length does not match Content-Range";
      code = Err::kSizeInvalid;
    }
    if (problem) {
      uint64_t size = (*u)->size;
      s.uploads->Release(*u);
      Fail(res, code, problem);
      UploadHeaders(res, repo, uuid, size);
      return BodyMode::kRespond;
    }
  }
  Digest want;
  if (req.method == "PUT" && !WantDigest(ex, &want)) {
    s.uploads->Release(*u);
    return BodyMode::kRespond;
  }
  return StreamInto(s, ex, *u, /*ephemeral=*/false, **cap);
}

void UploadFinish(Services& s, http::Exchange& ex) {
  auto* sink = static_cast<UploadSink*>(ex.sink.get());
  if (ex.req.method == "PUT") {
    CommitUpload(s, ex, sink->Take(), *Digest::Parse(ex.req.QueryParam("digest")));
    return;
  }
  const Upload& u = sink->upload();
  ex.res.status = 202;
  UploadHeaders(ex.res, u.repo, u.uuid, u.size);
}

}  // namespace wharf::registry
