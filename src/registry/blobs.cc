// GET/HEAD/DELETE /v2/<name>/blobs/<digest>
#include <unistd.h>

#include "registry/blocking.h"
#include "registry/errors.h"
#include "registry/fsck.h"
#include "registry/handlers.h"
#include "registry/headers.h"
#include "registry/range.h"
#include "util/log.h"

namespace wharf::registry {

namespace {
std::string DigestDetail(const std::string& d) { return "{\"digest\":\"" + d + "\"}"; }
}  // namespace

bool ServeBlob(Services& s, http::Exchange& ex, const std::string& repo, const Digest& d,
               uint64_t linked_size) {
  http::Request& req = ex.req;
  http::Response& res = ex.res;
  const std::string dg = d.str();
  if (req.IsHead() && !req.Find("Range") && !req.Find("If-None-Match")) {
    // The link record has the size: a HEAD needs no file at all.
    uint64_t offset = 0, length = 0;
    res.status = PlanBlobBody(req, linked_size, dg, res, &offset, &length);  // 200
    res.content_length = linked_size;
    return true;
  }
  uint64_t size = 0;
  auto fd = s.blobs->Open(d, &size);
  if (!fd.ok()) {
    WLOG_ERROR("blob %s is linked in %s but unreadable: %s", dg.c_str(), repo.c_str(),
               fd.status().ToString().c_str());
    Fail(res, Err::kBlobUnknown, "blob unknown to registry", DigestDetail(dg));
    return true;
  }
  if (size != linked_size) {
    // Damaged on disk (truncated, or written to by something else). Serving
    // it would hand out bytes that fail the client's digest check; take it
    // out of service instead. Rare enough that the synchronous rename and
    // metadata write on the loop do not matter.
    ::close(*fd);
    Status st = QuarantineBlob(*s.blobs, *s.meta, d,
                               "size " + std::to_string(size) + " on disk, recorded " +
                                   std::to_string(linked_size));
    if (!st.ok()) WLOG_ERROR("quarantine of %s failed: %s", dg.c_str(), st.ToString().c_str());
    return false;
  }
  uint64_t offset = 0, length = 0;
  const int status = PlanBlobBody(req, size, dg, res, &offset, &length);
  if (status == 200 || status == 206)
    res.SetFile(status, *fd, offset, length);
  else
    ::close(*fd);
  if (status != 416) res.AddHeader("Cache-Control", "max-age=31536000");
  return true;
}

int PlanBlobBody(const http::Request& req, uint64_t size, const std::string& digest, http::Response& res,
                 uint64_t* offset, uint64_t* length) {
  const std::string etag = ETagOf(digest);
  ByteRange r;
  RangeResult rr = RangeResult::kNone;
  if (const std::string* h = req.Find("Range")) rr = ParseRange(*h, size, &r);
  const std::string* inm = req.Find("If-None-Match");
  int status = 200;
  *offset = 0;
  *length = size;
  if (inm && NoneMatch(*inm, etag)) {
    status = res.status = 304;
  } else if (rr == RangeResult::kUnsatisfiable) {
    Fail(res, Err::kRangeInvalid, "requested range not satisfiable");
    res.AddHeader("Content-Range", "bytes */" + std::to_string(size));
    status = 416;
  } else if (rr == RangeResult::kOk) {
    status = 206;
    *offset = r.first;
    *length = r.length();
    res.AddHeader("Content-Range", "bytes " + std::to_string(r.first) + "-" + std::to_string(r.last) + "/" +
                                       std::to_string(size));
  }
  if (status != 416) res.AddHeader("Content-Type", "application/octet-stream");
  res.AddHeader("Docker-Content-Digest", digest);
  res.AddHeader("ETag", etag);
  res.AddHeader("Accept-Ranges", "bytes");
  return status;
}

BodyMode BlobBegin(Services& s, http::Exchange& ex) {
  http::Request& req = ex.req;
  http::Response& res = ex.res;
  const std::string repo(req.params[0]);
  auto d = Digest::Parse(req.params[1]);
  if (!d.ok()) {
    Fail(res, Err::kDigestInvalid, d.status().message());
    return BodyMode::kRespond;
  }
  const std::string dg = d->str();
  auto linked = s.meta->LinkedSize(repo, dg);
  if (!linked.ok()) {
    if (linked.status().code() == Code::kNotFound)
      Fail(res, Err::kBlobUnknown, "blob unknown to registry", DigestDetail(dg));
    else
      FailStorage(res, linked.status());
    return BodyMode::kRespond;
  }
  if (req.method == "DELETE") {
    if (!s.cfg.storage.delete_enabled) {
      Fail(res, Err::kUnsupported, "deletion is disabled (storage.delete_enabled)");
      return BodyMode::kRespond;
    }
    ex.body_limit = 0;
    return BodyMode::kBuffer;  // BlobFinish unlinks it off the loop
  }

  if (!ServeBlob(s, ex, repo, *d, *linked))
    Fail(res, Err::kInternal,
         "blob " + dg + " failed its integrity check on disk and was quarantined; push it again",
         DigestDetail(dg));
  return BodyMode::kRespond;
}

void BlobFinish(Services& s, http::Exchange& ex) {
  auto st = std::make_shared<Status>();
  std::string repo(ex.req.params[0]);
  std::string dg = Digest::Parse(ex.req.params[1])->str();
  RunBlocking(
      ex, [&s, st, repo, dg] { *st = s.meta->Unlink(repo, dg); },
      [&ex, st] {
        if (st->ok())
          ex.res.status = 202;
        else
          FailStorage(ex.res, *st);
      });
}

}  // namespace wharf::registry
