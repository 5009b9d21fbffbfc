#include "registry/access.h"

#include "registry/blocking.h"
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
    VerifyLater(s, ex, *req.Find("Authorization"));
    return Gate::kPaused;
  }
  Refuse(s, ex, d, need, repo);
  return Gate::kAnswered;
}

namespace {

// Answers a token request made with `authorization` (a Basic header, or
// nullptr: anonymous). False, with nothing answered, while the password
// check has yet to run.
bool AnswerToken(Services& s, http::Exchange& ex, const std::string* authorization,
                 const std::vector<std::string>& scopes) {
  std::string body;
  Decision d = s.auth->IssueToken(authorization, ex.req.ClientIp(), scopes, &body);
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
  const std::string* header = ex.req.Find("Authorization");
  if (AnswerToken(s, ex, header, ex.req.QueryParams("scope"))) return BodyMode::kRespond;
  VerifyLater(s, ex, *header);
  return BodyMode::kPause;
}

void TokenFinish(Services& s, http::Exchange& ex) {
  const std::string& form = ex.req.body;
  auto field = [&form](std::string_view key) {
    std::vector<std::string> v = FormValues(form, key);
    return v.empty() ? std::string() : std::move(v.front());
  };
  const std::string grant = field("grant_type");
  const std::string user = field("username");
  if (grant != "password") {
    // Refresh tokens would have to outlive the process's signing key, and
    // a client that holds one would lose its login at every restart; so
    // none is issued, and a client with credentials uses them each time.
    Fail(ex.res, Err::kBadRequest,
         "unsupported grant_type \"" + grant + "\": this token service takes grant_type=password");
    return;
  }
  if (user.empty() || user.find(':') != std::string::npos) {
    Fail(ex.res, Err::kBadRequest, "grant_type=password needs a username (without ':') and a password");
    return;
  }
  auto header = std::make_shared<std::string>("Basic " + Base64Encode(user + ':' + field("password"), false));
  auto scopes = std::make_shared<std::vector<std::string>>(FormValues(form, "scope"));
  if (AnswerToken(s, ex, header.get(), *scopes)) return;
  VerifyLater(s, ex, *header, [&s, &ex, header, scopes] { AnswerToken(s, ex, header.get(), *scopes); });
}

}  // namespace wharf::registry
