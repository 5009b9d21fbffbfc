// POST/PATCH/PUT/GET/DELETE /v2/<name>/blobs/uploads/...
#include <functional>

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
// Two things pause the body (see BodySink): the sink keeps the chunk, works
// off the loop, then writes the chunk and reads on. Each pause must be
// followed by a chunk written, or the request fails, so neither loops.
// - A full disk first makes cached blobs give way to the pushed bytes (when
//   the proxy is on): room is evicted for the rest of the announced length
//   (or for kStreamRoom more of a body without one). A disk that eviction
//   cannot help fails the request.
// - An upload under a quota that outgrows `cap` (what the rule allowed when
//   the request began) has the cap taken again, since content may have gone
//   meanwhile; past the new one it is refused, and discarded: it could never
//   complete.
class UploadSink final : public http::BodySink {
 public:
  UploadSink(Services& s, http::Exchange& ex, std::shared_ptr<Upload> u, bool ephemeral,
             uint64_t announced, UploadCap cap)
      : s_(s), ex_(ex), u_(std::move(u)), ephemeral_(ephemeral), start_size_(u_->size),
        announced_(announced), cap_(std::move(cap)) {}
  ~UploadSink() override {
    if (!u_) return;
    if (ephemeral_)
      (void)s_.uploads->Cancel(u_);
    else
      s_.uploads->Release(u_);
  }
  Status Write(std::string_view chunk) override {
    if (u_->size + chunk.size() > cap_.bytes) {
      if (may_recap_) {
        Recap(chunk);
        return Status();
      }
      return Refused(cap_.Check(u_->size + chunk.size()));
    }
    Status st = s_.uploads->Append(*u_, chunk);
    if (st.ok()) {
      may_evict_ = may_recap_ = true;
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
    // The rest of a known length, or nothing; a window of a stream, or at
    // least this chunk on a disk too small for the window.
    const uint64_t received = u_->size - start_size_;
    const uint64_t need = announced_ ? announced_ - received : chunk.size() + kStreamRoom;
    const uint64_t least = announced_ ? need : chunk.size();
    Evictor* evictor = &s_.proxy->evictor();
    PauseWith(chunk, [evictor, need, least] { if (!evictor->MakeRoom(need)) evictor->MakeRoom(least); },
              nullptr);
  }
  void Recap(std::string_view chunk) {
    may_recap_ = false;
    auto cap = std::make_shared<Result<UploadCap>>(Status());
    QuotaGate* gate = s_.quotas.get();
    const std::string repo = u_->repo;
    PauseWith(chunk, [gate, repo, cap] { *cap = gate->UploadCapFor(repo); },
              [cap](UploadSink* self) {
                if (cap->ok()) self->cap_ = **cap;
                return cap->status();
              });
  }
  // Keeps `chunk`, runs `work` off the loop, then on the loop `resumed`
  // (may be null; its error fails the request) and writes the chunk.
  void PauseWith(std::string_view chunk, std::function<void()> work,
                 std::function<Status(UploadSink*)> resumed) {
    pending_.assign(chunk);
    const void* self = this;
    http::Exchange& ex = ex_;
    // The connection may be closed meanwhile, which destroys this sink; the
    // exchange outlives the work, so go through it.
    RunBlocking(ex, std::move(work),
                [&ex, self, resumed = std::move(resumed)] {
                  if (ex.sink.get() != self) return;
                  auto* sink = static_cast<UploadSink*>(ex.sink.get());
                  Status st = resumed ? resumed(sink) : Status();
                  if (!st.ok()) {
                    sink->Failed(st);
                    return;
                  }
                  sink->WritePending();
                });
  }
  void WritePending() {
    const std::string chunk = std::move(pending_);
    // No second pause for the same reason: it is written, or answered and
    // the connection reads no more.
    (void)Write(chunk);
  }
  Status Refused(const Status& st) {
    FailStorage(ex_.res, st);
    (void)s_.uploads->Cancel(u_);
    u_.reset();
    return st;
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
  UploadCap cap_;
  bool may_evict_ = true;
  bool may_recap_ = true;
  std::string pending_;  // the chunk that waits
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

// The cap of an upload request's body (see UploadSink): none without a
// body or outside a quota. Under a quota it is taken off the loop first:
// null then, the exchange paused, and Begin runs again to find it in
// ex.scratch.
const Result<UploadCap>* CapFor(Services& s, http::Exchange& ex, const std::string& repo) {
  static const Result<UploadCap> kNone = UploadCap{};
  if (!(ex.req.chunked || ex.req.content_length > 0) || !HostedRuleFor(s.cfg.storage.quotas, repo))
    return &kNone;
  if (ex.scratch) return static_cast<const Result<UploadCap>*>(ex.scratch.get());
  auto cap = std::make_shared<Result<UploadCap>>(UploadCap{});
  ex.scratch = cap;
  QuotaGate* gate = s.quotas.get();
  RunBlocking(ex, [gate, repo, cap] { *cap = gate->UploadCapFor(repo); }, [] {});
  return nullptr;
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
  const Result<UploadCap>* cap = CapFor(s, ex, repo);
  if (!cap) return BodyMode::kPause;
  if (!cap->ok()) {
    FailStorage(ex.res, cap->status());
    return BodyMode::kRespond;
  }
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
  if (monolithic) return StreamInto(s, ex, *u, /*ephemeral=*/true, **cap);
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
        ex, [&s, st, repo] { *st = s.quotas->CheckRoom(repo); },
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
