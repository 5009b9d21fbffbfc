// POST/PATCH/PUT/GET/DELETE /v2/<name>/blobs/uploads/...
#include "registry/blocking.h"
#include "registry/errors.h"
#include "registry/handlers.h"
#include "registry/hosted_rule.h"
#include "registry/names.h"
#include "registry/quota.h"
#include "registry/range.h"

namespace wharf::registry {
namespace {

using storage::Upload;

void FailAppend(http::Response& res, const Status& st) {
  if (st.code() == Code::kTooLarge)
    Fail(res, Err::kTooLarge, st.message());
  else
    FailStorage(res, st);
}

// Streams a request body into an acquired upload. A failed write undoes the
// whole request's data (a full disk must not stay full of a half chunk); the
// upload stays at its last good size. When the request ends
// without Take() handing the upload on (an error, or the client left), it is
// released for a retry, or, if `ephemeral` (a monolithic POST, whose upload
// the client never saw), discarded with its file.
//
// A full disk first makes cached blobs give way to the pushed bytes (when
// the proxy is on): the sink keeps the chunk, pauses the body (see
// BodySink), evicts off the loop room for the rest of the announced length
// (or for kStreamRoom more of a body without one), then writes the chunk and
// reads on. Each such pause must be followed by a chunk written, or the
// request fails: a disk that eviction cannot help (a quota, or too little
// cached) never loops.
class UploadSink final : public http::BodySink {
 public:
  UploadSink(Services& s, http::Exchange& ex, std::shared_ptr<Upload> u, bool ephemeral,
             uint64_t announced)
      : s_(s), ex_(ex), u_(std::move(u)), ephemeral_(ephemeral), start_size_(u_->size),
        announced_(announced) {}
  ~UploadSink() override {
    if (!u_) return;
    if (ephemeral_)
      (void)s_.uploads->Cancel(u_);
    else
      s_.uploads->Release(u_);
  }
  Status Write(std::string_view chunk) override {
    Status st = s_.uploads->Append(*u_, chunk);
    if (st.ok()) {
      may_evict_ = true;
    } else if (st.code() == Code::kNoSpace && s_.proxy && may_evict_) {
      MakeRoomFor(chunk);
      return Status();
    } else {
      Failed(st);
    }
    return st;
  }
  const Upload& upload() const { return *u_; }
  std::shared_ptr<Upload> Take() { return std::move(u_); }

 private:
  // A body without a length evicts room for this much at a time.
  static constexpr uint64_t kStreamRoom = 64 << 20;

  void MakeRoomFor(std::string_view chunk) {
    may_evict_ = false;
    pending_.assign(chunk);
    // The rest of a known length, or nothing; a window of a stream, or at
    // least this chunk on a disk too small for the window.
    const uint64_t received = u_->size - start_size_;
    const uint64_t need = announced_ ? announced_ - received : pending_.size() + kStreamRoom;
    const uint64_t least = announced_ ? need : pending_.size();
    Evictor* evictor = &s_.proxy->evictor();
    const void* self = this;
    http::Exchange& ex = ex_;
    // The connection may be closed meanwhile, which destroys this sink; the
    // exchange outlives the work, so go through it.
    RunBlocking(ex, [evictor, need, least] { if (!evictor->MakeRoom(need)) evictor->MakeRoom(least); },
                [&ex, self] {
                  if (ex.sink.get() == self) static_cast<UploadSink*>(ex.sink.get())->WritePending();
                });
  }
  void WritePending() {
    const std::string chunk = std::move(pending_);
    // No second pause (may_evict_ is off): it is written, or answered and
    // the connection reads no more.
    (void)Write(chunk);
  }
  void Failed(const Status& st) {
    s_.uploads->Rewind(*u_, start_size_);
    FailAppend(ex_.res, st);
  }

  Services& s_;
  http::Exchange& ex_;
  std::shared_ptr<Upload> u_;
  const bool ephemeral_;
  const uint64_t start_size_;
  const uint64_t announced_;  // Content-Length, 0 if none
  bool may_evict_ = true;
  std::string pending_;  // the chunk that waits for room
};

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

// Streams the request body into `u` (see UploadSink). A request that
// announces its length is checked against the size cap before its body is
// read, and its writes go into disk space reserved ahead of them.
BodyMode StreamInto(Services& s, http::Exchange& ex, std::shared_ptr<Upload> u, bool ephemeral) {
  const uint64_t announced = ex.req.has_content_length ? ex.req.content_length : 0;
  Status st = s.uploads->Expect(*u, announced);
  auto sink = std::make_unique<UploadSink>(s, ex, std::move(u), ephemeral, announced);
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
        *st = CheckQuota(s.cfg.storage.quotas, *s.meta, u->repo, want.str(), u->size);
        if (st->ok()) *st = s.uploads->Commit(u, want);
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

// Answers 202 for new upload session `u` and lets it wait for its chunks.
void OpenSession(Services& s, http::Exchange& ex, const std::string& repo, const std::shared_ptr<Upload>& u) {
  ex.res.status = 202;
  UploadHeaders(ex.res, repo, u->uuid, 0);
  s.uploads->Release(u);
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
  if (!monolithic && HostedRuleFor(s.cfg.storage.quotas, repo)) {
    // Is the quota full already? That reads metadata: off the loop, in
    // UploadStartFinish, before the session is opened.
    ex.body_limit = 0;
    ex.scratch = std::make_shared<bool>(true);
    return BodyMode::kBuffer;
  }
  auto u = s.uploads->Start(repo);
  if (!u.ok()) {
    FailStorage(ex.res, u.status());
    return BodyMode::kRespond;
  }
  if (monolithic) return StreamInto(s, ex, *u, /*ephemeral=*/true);
  OpenSession(s, ex, repo, *u);
  return BodyMode::kRespond;
}

void UploadStartFinish(Services& s, http::Exchange& ex) {
  if (ex.sink) {  // monolithic POST ?digest=
    Digest want = *Digest::Parse(ex.req.QueryParam("digest"));
    CommitUpload(s, ex, static_cast<UploadSink*>(ex.sink.get())->Take(), want);
    return;
  }
  if (ex.scratch) {  // a session in a repository under a quota (see UploadStartBegin)
    const std::string repo(ex.req.params[0]);
    auto st = std::make_shared<Status>();
    RunBlocking(
        ex, [&s, st, repo] { *st = CheckQuotaRoom(s.cfg.storage.quotas, *s.meta, repo); },
        [&s, &ex, st, repo] {
          auto u = st->ok() ? s.uploads->Start(repo) : Result<std::shared_ptr<Upload>>(*st);
          if (!u.ok()) {
            FailStorage(ex.res, u.status());
            return;
          }
          OpenSession(s, ex, repo, *u);
        });
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
        *st = size.ok() ? CheckQuota(s.cfg.storage.quotas, *s.meta, repo, digest, *size) : size.status();
        if (st->ok()) *st = s.meta->CommitBlob(repo, digest, *size, storage::Origin::kPushed, "");
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
  return StreamInto(s, ex, *u, /*ephemeral=*/false);
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
