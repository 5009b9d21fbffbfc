#include "auth/authenticator.h"

#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <cctype>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "util/clock.h"
#include "util/encoding.h"
#include "util/log.h"
#include "util/json_text.h"

namespace wharf::auth {
namespace {

constexpr int64_t kPositiveTtlMs = 60 * 1000;
constexpr int64_t kNegativeTtlMs = 10 * 1000;
constexpr int64_t kFailureWindowMs = 60 * 1000;
constexpr int kMaxFailures = 10;  // per address and user
// Per address, all users together: one address cannot try many names, nor
// flush the table with them (it holds kMaxCacheEntries).
constexpr int kMaxFailuresPerAddress = 100;
constexpr size_t kMaxCacheEntries = 10000;

Access ToAccess(const std::string& s) {
  Access a = Access::kNone;
  ParseAccess(s, &a);
  return a;
}

std::vector<Rule> ToRules(const AuthConfig& cfg) {
  std::vector<Rule> rules;
  for (const auto& r : cfg.rules) rules.push_back(Rule{r.user, r.prefix, ToAccess(r.access)});
  return rules;
}

bool StartsWithNoCase(const std::string& s, const char* prefix) {
  size_t n = strlen(prefix);
  if (s.size() < n) return false;
  for (size_t i = 0; i < n; ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

// The user and password of a "Basic ..." header; false (both empty) if it
// is not one.
bool SplitBasic(const std::string& header, std::string* user, std::string* pass) {
  std::string decoded;
  if (!StartsWithNoCase(header, "basic ") || !Base64Decode(header.substr(6), false, &decoded)) return false;
  const size_t colon = decoded.find(':');
  if (colon == std::string::npos) return false;
  *user = decoded.substr(0, colon);
  *pass = decoded.substr(colon + 1);
  return true;
}

// Failed logins are counted per client address and user name: one client's
// wrong password then does not lock out the others behind the same NAT or
// proxy (a cluster's nodes pulling with one bad secret), while guessing one
// user's password stays limited. Tokens are not counted: an HMAC cannot be
// guessed. "" (never counted) for anything but a Basic header.
std::string FailureKey(const std::string& ip, const std::string& authorization) {
  std::string user, pass;
  if (!StartsWithNoCase(authorization, "basic ")) return "";
  SplitBasic(authorization, &user, &pass);
  return ip + '\0' + user;
}

std::string RandomKey() {
  std::string k(32, '\0');
  RAND_bytes(reinterpret_cast<uint8_t*>(k.data()), k.size());
  return k;
}

// Scope parameters as given: repeated (the GET form), or several in one
// value separated by spaces (OAuth's form, which containerd's POST uses).
std::vector<std::string> SplitScopes(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const std::string& v : values) {
    size_t start = 0;
    while (start < v.size()) {
      size_t end = v.find(' ', start);
      if (end == std::string::npos) end = v.size();
      if (end > start) out.push_back(v.substr(start, end - start));
      start = end + 1;
    }
  }
  return out;
}

}  // namespace

Authenticator::Authenticator(const AuthConfig& cfg, std::string token_key)
    : cfg_(cfg),
      policy_(cfg.anonymous_pull, ToAccess(cfg.default_access), ToRules(cfg)),
      signer_(token_key.empty() ? RandomKey() : std::move(token_key)),
      cache_key_(RandomKey()) {}

Status Authenticator::Reload() {
  std::vector<std::string> rejected;
  auto h = Htpasswd::Load(cfg_.htpasswd_path, &rejected);
  if (!h.ok()) return h.status();
  for (const auto& r : rejected) WLOG_WARN("htpasswd %s: %s", cfg_.htpasswd_path.c_str(), r.c_str());
  struct stat st;
  int64_t mtime = ::stat(cfg_.htpasswd_path.c_str(), &st) == 0
                      ? static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec
                      : 0;
  std::lock_guard<std::mutex> lock(mu_);
  users_ = *h;
  file_mtime_ = mtime;
  cache_.clear();
  WLOG_INFO("htpasswd: %zu users loaded from %s", (*h)->size(), cfg_.htpasswd_path.c_str());
  return Status();
}

void Authenticator::MaybeReload() {
  int64_t now = WallMs();
  int64_t next = next_stat_ms_.load(std::memory_order_relaxed);
  if (now < next || !next_stat_ms_.compare_exchange_strong(next, now + 1000)) return;
  struct stat st;
  if (::stat(cfg_.htpasswd_path.c_str(), &st) != 0) return;
  int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (mtime == file_mtime_) return;
  }
  Status s = Reload();
  if (!s.ok()) WLOG_ERROR("htpasswd reload failed, keeping the old users: %s", s.message().c_str());
}

std::string Authenticator::CacheKey(const std::string& authorization) const {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), cache_key_.data(), static_cast<int>(cache_key_.size()),
       reinterpret_cast<const unsigned char*>(authorization.data()), authorization.size(), out, &n);
  return std::string(reinterpret_cast<char*>(out), n);
}

bool Authenticator::Blocked(const std::string& ip, const std::string& authorization) {
  const std::string user_key = FailureKey(ip, authorization);
  if (user_key.empty()) return false;
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = WallMs();
  for (const auto& [key, limit] : {std::pair{user_key, kMaxFailures}, std::pair{ip, kMaxFailuresPerAddress}}) {
    auto it = failures_.find(key);
    if (it == failures_.end()) continue;
    if (now - it->second.window_start_ms > kFailureWindowMs)
      failures_.erase(it);
    else if (it->second.count >= limit)
      return true;
  }
  return false;
}

void Authenticator::CountFailure(const std::string& ip, const std::string& authorization) {
  const std::string user_key = FailureKey(ip, authorization);
  if (user_key.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (failures_.size() > kMaxCacheEntries) failures_.clear();
  const int64_t now = WallMs();
  for (const std::string& key : {user_key, ip}) {
    Failures& f = failures_[key];
    if (now - f.window_start_ms > kFailureWindowMs) f = Failures{now, 0};
    ++f.count;
  }
}

void Authenticator::Verify(const std::string& authorization) {
  std::string user, pass;
  SplitBasic(authorization, &user, &pass);
  std::shared_ptr<const Htpasswd> users;
  {
    std::lock_guard<std::mutex> lock(mu_);
    users = users_;
  }
  bool ok = users && !user.empty() && users->Verify(user, pass);
  std::lock_guard<std::mutex> lock(mu_);
  if (cache_.size() > kMaxCacheEntries) cache_.clear();
  cache_[CacheKey(authorization)] =
      Cached{user, ok, WallMs() + (ok ? kPositiveTtlMs : kNegativeTtlMs)};
}

Decision Authenticator::Identify(const std::string* authorization, const std::string& ip,
                                 Claims* claims) {
  Decision d;
  if (!authorization || authorization->empty()) return d;  // anonymous
  MaybeReload();
  const std::string& h = *authorization;
  if (StartsWithNoCase(h, "bearer ")) {
    auto c = signer_.Verify(h.substr(7), WallMs() / 1000);
    if (!c.ok()) {
      d.kind = Decision::kChallenge;
      d.message = c.status().message();
      return d;
    }
    if (c->refresh) {  // it only buys access tokens at /auth/token
      d.kind = Decision::kChallenge;
      d.message = "a refresh token is not an access token";
      return d;
    }
    *claims = std::move(*c);
    d.user = claims->subject;
    return d;
  }
  if (!StartsWithNoCase(h, "basic ")) {
    d.kind = Decision::kChallenge;
    d.message = "unsupported authorization scheme";
    return d;
  }
  if (Blocked(ip, h)) {
    d.kind = Decision::kTooMany;
    d.message = "too many failed login attempts; try again in a minute";
    return d;
  }
  std::string key = CacheKey(h);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && it->second.expires_ms > WallMs()) {
      if (!it->second.ok) {
        d.kind = Decision::kChallenge;
        d.message = "invalid username or password";
        return d;
      }
      d.user = it->second.user;
      return d;
    }
  }
  d.kind = Decision::kVerify;
  return d;
}

bool Authenticator::Permits(const std::string& user, const Claims* claims, Need need,
                            const std::string& repo) const {
  if (claims) {  // a token carries exactly what it grants
    switch (need) {
      case Need::kLogin: return true;
      case Need::kCatalog: return claims->Allows("registry", "catalog", "*");
      case Need::kPull: return claims->Allows("repository", repo, "pull");
      case Need::kPush: return claims->Allows("repository", repo, "push");
    }
  }
  switch (need) {
    // In token mode an anonymous ping is challenged, so that clients learn
    // where to get a token (an anonymous one grants pull, as on Docker Hub).
    case Need::kLogin: return !user.empty() || (policy_.anonymous_pull() && !cfg_.token_enabled);
    case Need::kCatalog: return !user.empty();
    case Need::kPull: return policy_.For(user, repo) >= Access::kRead;
    case Need::kPush: return policy_.For(user, repo) >= Access::kWrite;
  }
  return false;
}

Decision Authenticator::Check(const std::string* authorization, const std::string& ip, Need need,
                              const std::string& repo) {
  Claims claims;
  Decision d = Identify(authorization, ip, &claims);
  if (d.kind == Decision::kVerify || d.kind == Decision::kTooMany) return d;
  if (d.kind == Decision::kChallenge) {
    if (authorization) CountFailure(ip, *authorization);
    return d;
  }
  const bool bearer = authorization && StartsWithNoCase(*authorization, "bearer ");
  if (Permits(d.user, bearer ? &claims : nullptr, need, repo)) return d;
  if (d.user.empty() || bearer) {
    // Anonymous, or a token without this scope: ask for (new) credentials.
    d.kind = Decision::kChallenge;
    d.message = "authentication required";
  } else {
    d.kind = Decision::kDenied;
    d.message = "requested access to the resource is denied";
  }
  return d;
}

std::string Authenticator::Challenge(Need need, const std::string& repo, const std::string& host,
                                     bool secure) const {
  if (!cfg_.token_enabled) return "Basic realm=\"" + cfg_.realm + "\"";
  std::string realm = cfg_.token_realm.empty()
                          ? std::string(secure ? "https://" : "http://") + host + "/auth/token"
                          : cfg_.token_realm;
  std::string v = "Bearer realm=\"" + realm + "\",service=\"" + cfg_.token_service + "\"";
  if (need == Need::kPull) v += ",scope=\"repository:" + repo + ":pull\"";
  if (need == Need::kPush) v += ",scope=\"repository:" + repo + ":pull,push\"";
  if (need == Need::kCatalog) v += ",scope=\"registry:catalog:*\"";
  return v;
}

std::string Authenticator::Binding(const std::string& user) {
  std::shared_ptr<const Htpasswd> users;
  {
    std::lock_guard<std::mutex> lock(mu_);
    users = users_;
  }
  const std::string* hash = users ? users->Hash(user) : nullptr;
  if (!hash) return "";
  // Keyed, so that the token (readable by its holder) says nothing about
  // the password hash.
  return Base64Encode(signer_.Mac(user + '\0' + *hash).substr(0, 16), true);
}

Decision Authenticator::Redeem(const std::string& refresh_token) {
  Decision d;
  MaybeReload();
  auto c = signer_.Verify(refresh_token, WallMs() / 1000);
  std::string why = !c.ok() ? c.status().message() : !c->refresh ? "not a refresh token" : "";
  if (why.empty() && (c->subject.empty() || c->binding != Binding(c->subject)))
    why = "the login this refresh token was issued for has changed; log in again";
  if (!why.empty()) {
    d.kind = Decision::kChallenge;
    d.message = why;
    return d;
  }
  d.user = c->subject;
  return d;
}

Decision Authenticator::IssueToken(const TokenRequest& r, const std::string& ip, std::string* body) {
  Decision d;
  if (r.refresh_token) {
    d = Redeem(*r.refresh_token);
    if (d.kind != Decision::kAllow) return d;
  } else {
    Claims none;
    d = Identify(r.authorization, ip, &none);
    if (d.kind == Decision::kChallenge && r.authorization) CountFailure(ip, *r.authorization);
    if (d.kind != Decision::kAllow) return d;
    if (r.authorization && StartsWithNoCase(*r.authorization, "bearer ")) {
      d.kind = Decision::kChallenge;  // tokens are issued for passwords, not for tokens
      d.message = "use Basic credentials to obtain a token";
      return d;
    }
    if (d.user.empty() && !policy_.anonymous_pull()) {
      d.kind = Decision::kChallenge;
      d.message = "authentication required";
      return d;
    }
  }
  Claims c;
  c.subject = d.user;
  const int64_t now = WallMs() / 1000;
  c.expires = now + cfg_.token_ttl_seconds;
  std::string granted;  // the OAuth answer's "scope": what was granted, space-separated
  for (const std::string& s : SplitScopes(r.scopes)) {
    Grant want;
    if (!ParseScope(s, &want)) continue;
    Grant got{want.type, want.name, {}};
    if (want.type == "repository") {
      Access a = policy_.For(d.user, want.name);
      for (const std::string& act : want.actions) {
        if ((act == "pull" && a >= Access::kRead) ||
            ((act == "push" || act == "delete") && a >= Access::kWrite))
          got.actions.insert(act);
      }
    } else if (want.type == "registry" && want.name == "catalog" && !d.user.empty()) {
      got.actions.insert("*");
    }
    if (got.actions.empty()) continue;
    granted += (granted.empty() ? "" : " ") + got.type + ':' + got.name;
    char sep = ':';
    for (const std::string& act : got.actions) {
      granted += sep + act;
      sep = ',';
    }
    c.access.push_back(std::move(got));
  }
  std::string token = signer_.Sign(c);
  char issued[32];
  time_t t = static_cast<time_t>(now);
  tm tmv;
  gmtime_r(&t, &tmv);
  strftime(issued, sizeof issued, "%Y-%m-%dT%H:%M:%SZ", &tmv);
  nlohmann::json answer = {{"token", token},
                           {"access_token", token},
                           {"expires_in", cfg_.token_ttl_seconds},
                           {"scope", granted},
                           {"issued_at", issued}};
  // Only for a password login: a refresh grant keeps its token, so a login
  // lasts refresh_ttl_seconds from the password, however often it is used.
  if (r.offline && !r.refresh_token && !d.user.empty() && cfg_.token_refresh_ttl_seconds > 0) {
    Claims refresh;
    refresh.subject = d.user;
    refresh.expires = now + cfg_.token_refresh_ttl_seconds;
    refresh.refresh = true;
    refresh.binding = Binding(d.user);
    answer["refresh_token"] = signer_.Sign(refresh);
  }
  *body = JsonText(answer);
  return d;
}

}  // namespace wharf::auth
