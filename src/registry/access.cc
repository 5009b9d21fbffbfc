#include "registry/access.h"

#include "registry/app.h"
#include "registry/blocking.h"
#include "registry/client_view.h"
#include "registry/errors.h"
#include "registry/routes.h"
#include "util/encoding.h"

namespace wharf::registry {
namespace {

using auth::Decision;
using auth::Need;

// Starts the bcrypt check of the Basic credentials `header` off the loop;
// `then` runs on the loop afterwards (from Begin: nothing, since Begin is
// called again; from Finish: the answer).
void VerifyLater(Services& s, http::Exchange& ex, std::string header,
                 std::function<void()> then = [] {}) {
  auth::Authenticator* a = s.auth.get();
  RunBlocking(ex, [a, header = std::move(header)] { a->Verify(header); }, std::move(then));
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
      const ClientView client = ViewOf(s.trusted_proxies, ex.req);
      ex.res.AddHeader("WWW-Authenticate", s.auth->Challenge(need, repo, client.host, client.secure));
    }
  }
}

}  // namespace

Gate CheckAccess(Services& s, http::Exchange& ex, int route) {
  // The admin socket (0600 in the storage root) is for whoever may read the
  // storage anyway: `wharf warm` pulls through it without a login.
  if (!s.auth || ex.req.peer == Registry::kAdminPeer) return Gate::kPass;
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
  Decision d = s.auth->Check(req.Find("Authorization"), ClientIp(ex), need, repo);
  if (d.kind == Decision::kAllow) {
    if (s.notifier) ex.user = d.user;  // the events' actor
    return Gate::kPass;
  }
  if (d.kind == Decision::kVerify) {
    VerifyLater(s, ex, *req.Find("Authorization"));
    return Gate::kPaused;
  }
  Refuse(s, ex, d, need, repo);
  return Gate::kAnswered;
}

namespace {

// Answers token request `r`. False, with nothing answered, while the
// password check has yet to run.
bool AnswerToken(Services& s, http::Exchange& ex, const auth::TokenRequest& r) {
  std::string body;
  Decision d = s.auth->IssueToken(r, ClientIp(ex), &body);
  switch (d.kind) {
    case Decision::kVerify:
      return false;
    case Decision::kAllow:
      ex.res.Set(200, "application/json", std::move(body));
      ex.res.AddHeader("Cache-Control", "no-store");
      break;
    case Decision::kChallenge:  // the token endpoint itself challenges with Basic
      Fail(ex.res, Err::kUnauthorized, d.message.empty() ? "authentication required" : d.message);
      ex.res.AddHeader("WWW-Authenticate", "Basic realm=\"" + s.cfg.auth.realm + "\"");
      break;
    default:
      Refuse(s, ex, d, Need::kLogin, "");
  }
  return true;
}

// An OAuth2 form is a few hundred bytes.
constexpr uint64_t kMaxTokenForm = 16 * 1024;

}  // namespace

http::Handler::BodyMode TokenBegin(Services& s, http::Exchange& ex) {
  using BodyMode = http::Handler::BodyMode;
  if (!s.auth || !s.auth->token_mode()) {
    ex.res.Error(404, "NOT_FOUND", "no such endpoint");
    return BodyMode::kRespond;
  }
  if (ex.req.method == "POST") {
    ex.body_limit = kMaxTokenForm;
    return BodyMode::kBuffer;
  }
  auth::TokenRequest r;
  r.authorization = ex.req.Find("Authorization");
  r.scopes = ex.req.QueryParams("scope");
  r.offline = ex.req.QueryParam("offline_token") == "true";
  if (AnswerToken(s, ex, r)) return BodyMode::kRespond;
  VerifyLater(s, ex, *r.authorization);
  return BodyMode::kPause;
}

void TokenFinish(Services& s, http::Exchange& ex) {
  const std::string& form = ex.req.body;
  auto field = [&form](std::string_view key) {
    std::vector<std::string> v = FormValues(form, key);
    return v.empty() ? std::string() : std::move(v.front());
  };
  // Owned here, kept alive across the password check by the lambda below.
  struct Pending {
    std::string header, refresh;
    auth::TokenRequest r;
  };
  auto g = std::make_shared<Pending>();
  g->r.scopes = FormValues(form, "scope");
  g->r.offline = field("access_type") == "offline";
  const std::string type = field("grant_type");
  if (type == "refresh_token") {
    g->refresh = field("refresh_token");
    g->r.refresh_token = &g->refresh;
    AnswerToken(s, ex, g->r);  // no password to check
    return;
  }
  if (type != "password") {
    Fail(ex.res, Err::kBadRequest,
         "unsupported grant_type \"" + type + "\": this token service takes password and refresh_token");
    return;
  }
  const std::string user = field("username");
  if (user.empty() || user.find(':') != std::string::npos) {
    Fail(ex.res, Err::kBadRequest, "grant_type=password needs a username (without ':') and a password");
    return;
  }
  g->header = "Basic " + Base64Encode(user + ':' + field("password"), false);
  g->r.authorization = &g->header;
  if (AnswerToken(s, ex, g->r)) return;
  VerifyLater(s, ex, g->header, [&s, &ex, g] { AnswerToken(s, ex, g->r); });
}

}  // namespace wharf::registry
