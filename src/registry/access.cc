#include "registry/access.h"

#include "registry/blocking.h"
#include "registry/errors.h"
#include "registry/routes.h"

namespace wharf::registry {
namespace {

using auth::Decision;
using auth::Need;

// Starts the bcrypt check off the loop; the exchange resumes afterwards.
void VerifyLater(Services& s, http::Exchange& ex) {
  std::string header = *ex.req.Find("Authorization");
  auth::Authenticator* a = s.auth.get();
  RunBlocking(ex, [a, header] { a->Verify(header); }, [] {});
}

void Refuse(Services& s, http::Exchange& ex, const Decision& d, Need need, const std::string& repo) {
  switch (d.kind) {
    case Decision::kTooMany:
      Fail(ex.res, Err::kTooManyRequests, d.message);
      ex.res.AddHeader("Retry-After", "60");
      return;
    case Decision::kDenied:
      Fail(ex.res, Err::kDenied, d.message);
      return;
    default: {
      Fail(ex.res, Err::kUnauthorized, "authentication required");
      const std::string* host = ex.req.Find("Host");
      ex.res.AddHeader("WWW-Authenticate",
                       s.auth->Challenge(need, repo, host ? *host : "localhost", ex.req.secure));
    }
  }
}

}  // namespace

Gate CheckAccess(Services& s, http::Exchange& ex, int route) {
  if (!s.auth) return Gate::kPass;
  const http::Request& req = ex.req;
  Need need;
  switch (route) {
    case kRouteBase: need = Need::kLogin; break;
    case kRouteCatalog: need = Need::kCatalog; break;
    case kRouteTags:
    case kRouteReferrers: need = Need::kPull; break;
    case kRouteManifest:
    case kRouteBlob: need = req.IsRead() ? Need::kPull : Need::kPush; break;
    case kRouteUploadStart:
    case kRouteUpload: need = Need::kPush; break;
    default: return Gate::kPass;  // /healthz, /livez, /metrics, the admin socket, the token endpoint
  }
  const std::string repo =
      (need == Need::kPull || need == Need::kPush) ? std::string(req.params[0]) : std::string();
  Decision d = s.auth->Check(req.Find("Authorization"), req.ClientIp(), need, repo);
  if (d.kind == Decision::kAllow) {
    if (s.notifier) ex.user = d.user;  // the events' actor
    return Gate::kPass;
  }
  if (d.kind == Decision::kVerify) {
    VerifyLater(s, ex);
    return Gate::kPaused;
  }
  Refuse(s, ex, d, need, repo);
  return Gate::kAnswered;
}

http::Handler::BodyMode TokenBegin(Services& s, http::Exchange& ex) {
  using BodyMode = http::Handler::BodyMode;
  if (!s.auth || !s.auth->token_mode()) {
    ex.res.Error(404, "NOT_FOUND", "no such endpoint");
    return BodyMode::kRespond;
  }
  std::string body;
  Decision d = s.auth->IssueToken(ex.req.Find("Authorization"), ex.req.ClientIp(),
                                  ex.req.QueryParams("scope"), &body);
  if (d.kind == Decision::kVerify) {
    VerifyLater(s, ex);
    return BodyMode::kPause;
  }
  if (d.kind != Decision::kAllow) {
    // The token endpoint itself challenges with Basic.
    if (d.kind == Decision::kChallenge) {
      Fail(ex.res, Err::kUnauthorized, d.message.empty() ? "authentication required" : d.message);
      ex.res.AddHeader("WWW-Authenticate", "Basic realm=\"" + s.cfg.auth.realm + "\"");
    } else {
      Refuse(s, ex, d, Need::kLogin, "");
    }
    return BodyMode::kRespond;
  }
  ex.res.Set(200, "application/json", std::move(body));
  ex.res.AddHeader("Cache-Control", "no-store");
  return BodyMode::kRespond;
}

}  // namespace wharf::registry
