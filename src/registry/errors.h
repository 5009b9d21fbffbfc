// The registry's error codes and their HTTP statuses, in one table (as
// distribution's errcode registry does). Every error answer goes through
// Fail(), so a code can never be sent with the wrong status.
#pragma once

#include <string_view>

#include "http/response.h"
#include "util/status.h"

namespace wharf::registry {

enum class Err {
  kBlobUnknown,         // 404
  kBlobUploadInvalid,   // 400
  kBlobUploadUnknown,   // 404
  kDigestInvalid,       // 400
  kManifestBlobUnknown, // 400
  kManifestInvalid,     // 400
  kManifestUnknown,     // 404
  kNameInvalid,         // 400
  kNameUnknown,         // 404
  kSizeInvalid,         // 400
  kTagInvalid,          // 400
  kUnsupported,         // 405
  kPaginationInvalid,   // 400
  kRangeInvalid,        // 416
  kTooLarge,            // 413
  kBusy,                // 409 (an upload already in use)
  kStorageFull,         // 507
  kInternal,            // 500
  kUnauthorized,        // 401
  kDenied,              // 403
  kTooManyRequests,     // 429
  kUpstreamUnavailable, // 502
  kReadOnly,            // 405 (pushes to a read-only mirror)
  kOverloaded,          // 503 (out of descriptors: try again shortly)
  kUnhealthy,           // 503 (/healthz: the storage takes no writes)
  kBadRequest,          // 400 (a token request without a usable grant)
};

int StatusOf(Err e);
const char* CodeOf(Err e);

void Fail(http::Response& res, Err e, std::string_view message, std::string_view detail_json = {});
// Maps a storage Status to the closest answer (no space, out of
// descriptors with Retry-After, a policy's refusal, I/O error).
void FailStorage(http::Response& res, const Status& st);

}  // namespace wharf::registry
