// The OCI distribution API handlers, one file per resource:
//   blobs.cc      GET/HEAD/DELETE /v2/<name>/blobs/<digest>
//   uploads.cc    POST/PATCH/PUT/GET/DELETE /v2/<name>/blobs/uploads/...
//   manifests.cc  GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>
//   listing.cc    GET /v2/<name>/tags/list, GET /v2/_catalog,
//                 GET /v2/<name>/referrers/<digest>
//
// Each resource has a Begin (the head has arrived: answer now or say how the
// body is taken) and, where a body or blocking work follows, a Finish. They
// follow the http::Handler contract. ex.req.params[0] is the repository name
// (already validated) and params[1] the last path parameter.
#pragma once

#include "http/handler.h"
#include "registry/reference.h"
#include "registry/services.h"

namespace wharf::registry {

using BodyMode = http::Handler::BodyMode;

// Serves blob `d` of `repo` from local storage (GET, HEAD, ranges,
// conditional requests; REQUIRES: linked in repo, with the size its link
// record holds) and returns true. Returns false, with nothing answered, when
// the file turns out to be damaged (its size is not the recorded one): it has
// then been quarantined and forgotten, and the caller decides what the client
// gets.
bool ServeBlob(Services& s, http::Exchange& ex, const std::string& repo, const Digest& d,
               uint64_t linked_size);
// How to answer a GET of blob `digest` (`size` bytes) as the request's
// If-None-Match and Range ask. Returns 304 or 416 with `res` answered, or
// 200/206 with the part to send in [*offset, *offset + *length), which the
// caller sets as the body with that status. Either way the blob headers
// (Docker-Content-Digest, ETag, Accept-Ranges, Content-Type, Content-Range)
// are added.
int PlanBlobBody(const http::Request& req, uint64_t size, const std::string& digest, http::Response& res,
                 uint64_t* offset, uint64_t* length);
BodyMode BlobBegin(Services& s, http::Exchange& ex);
void BlobFinish(Services& s, http::Exchange& ex);

BodyMode UploadStartBegin(Services& s, http::Exchange& ex);
void UploadStartFinish(Services& s, http::Exchange& ex);
BodyMode UploadBegin(Services& s, http::Exchange& ex);
void UploadFinish(Services& s, http::Exchange& ex);

// Serves a manifest of `repo` from local storage (GET/HEAD; one metadata
// read) and returns true. If `repo` has no such manifest it answers
// MANIFEST_UNKNOWN / NAME_UNKNOWN and returns true, or, with
// OnMiss::kLeaveUnanswered, answers nothing and returns false (the proxy then
// asks its upstream). A storage error is answered either way.
//
// A tag naming an index that the request's Accept does not allow is answered
// with the index's DefaultPlatformEntry() instead (one more metadata read),
// as the reference registry answers scripts that send only the image
// manifest types; without such an entry, or asked by digest, it is
// MANIFEST_UNKNOWN. When that entry is not stored here, it is a miss as
// above, and `outcome->missing_entry` names it.
enum class OnMiss { kAnswerUnknown, kLeaveUnanswered };
struct ManifestOutcome {
  std::string served;         // the digest answered (a 304 too), or empty
  std::string missing_entry;  // the index entry that was missed, or empty
};
bool ServeManifest(Services& s, http::Exchange& ex, const std::string& repo, const Reference& ref,
                   OnMiss on_miss = OnMiss::kAnswerUnknown, ManifestOutcome* outcome = nullptr);
BodyMode ManifestBegin(Services& s, http::Exchange& ex);
void ManifestFinish(Services& s, http::Exchange& ex);

void ListTags(Services& s, http::Exchange& ex);
// Answers a tags list from `tags` (any order, duplicates allowed), honouring
// the request's n and last.
void SendTags(http::Exchange& ex, const std::string& name, std::vector<std::string> tags);
void ListCatalog(Services& s, http::Exchange& ex);
void ListReferrers(Services& s, http::Exchange& ex);

}  // namespace wharf::registry
