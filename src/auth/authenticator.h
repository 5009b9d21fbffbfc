// Authenticator: decides, for one request, who the client is and whether it
// may do what it asks.
//
// Credentials: "Authorization: Basic" (checked against the htpasswd file)
// and "Authorization: Bearer" (tokens from TokenSigner, when token mode is
// on). bcrypt is slow, so Check() never runs it: on a cache miss it answers
// kVerify, the caller runs Verify() off the event loop, then calls Check()
// again, which now finds the result in the cache. The cache key is an HMAC
// of the whole header under a per-process random key: passwords are never
// stored, and a changed password misses the cache. Failed password
// attempts are counted per client address and user name; past the limit
// (10) that user gets kTooMany from that address for the rest of the
// minute, while other users behind the same address are not held up unless
// the address as a whole failed 100 times. Failed tokens are not counted:
// they cannot be guessed.
//
// The htpasswd file is re-read on Reload() (SIGHUP) and when its mtime
// changes (checked at most once a second); a reload empties the cache.
//
// Thread-safety: every method is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "auth/htpasswd.h"
#include "auth/policy.h"
#include "auth/token.h"
#include "config/config.h"

namespace wharf::auth {

// What a request needs.
enum class Need {
  kLogin,    // any valid identity (GET /v2/): anonymous only with anonymous_pull
  kPull,     // read `repo`
  kPush,     // write `repo`
  kCatalog,  // list repositories
};

struct Decision {
  enum Kind { kAllow, kChallenge, kDenied, kTooMany, kVerify } kind = kAllow;
  std::string user;      // "" for anonymous
  std::string message;   // for errors
};

// A request to the token service.
struct TokenRequest {
  const std::string* authorization = nullptr;  // a Basic header; nullptr: anonymous
  const std::string* refresh_token = nullptr;  // instead of a password (OAuth2 refresh grant)
  std::vector<std::string> scopes;  // the scope values, each one or several separated by spaces
  bool offline = false;  // also issue a refresh token (docker login's offline_token=true)
};

class Authenticator {
 public:
  // `token_key`: the HMAC key of tokens (registry/token_key.h); empty when
  // token mode is off (a random one then makes any token invalid).
  Authenticator(const AuthConfig& cfg, std::string token_key);
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  // Loads the htpasswd file; unusable users are logged as warnings.
  Status Reload();

  // `authorization` is the header value or nullptr; `ip` the client address.
  Decision Check(const std::string* authorization, const std::string& ip, Need need,
                 const std::string& repo);
  // Runs bcrypt for a Basic header and caches the outcome. Blocking.
  void Verify(const std::string& authorization);

  // The WWW-Authenticate value for a challenge. `host` and `secure` build the
  // default token realm.
  std::string Challenge(Need need, const std::string& repo, const std::string& host,
                        bool secure) const;

  // Token service: checks the credentials (a Basic header, a refresh token,
  // or anonymous) and signs a token for the granted part of each requested
  // scope. Returns the JSON body (token, access_token, expires_in,
  // issued_at, the granted scope, and a refresh_token when `offline` asked
  // for one and a user logged in with a password), or a Decision that is
  // not kAllow. A refresh token is refused once its user's password entry
  // changed or went away.
  Decision IssueToken(const TokenRequest& r, const std::string& ip, std::string* body);

  bool token_mode() const { return cfg_.token_enabled; }

 private:
  struct Cached {
    std::string user;
    bool ok = false;
    int64_t expires_ms = 0;
  };
  // Resolves the identity; kAllow with user set, or another kind.
  Decision Identify(const std::string* authorization, const std::string& ip, Claims* claims);
  bool Permits(const std::string& user, const Claims* claims, Need need, const std::string& repo) const;
  // Ties a refresh token to the user's current password entry; "" for a
  // user who does not exist (no refresh token matches that).
  std::string Binding(const std::string& user);
  // The identity a refresh token stands for (kAllow with user), or a
  // challenge.
  Decision Redeem(const std::string& refresh_token);
  std::string CacheKey(const std::string& authorization) const;
  // Failed Basic logins (other headers are never counted nor blocked), per
  // address and user, and per address for all users together.
  void CountFailure(const std::string& ip, const std::string& authorization);
  bool Blocked(const std::string& ip, const std::string& authorization);
  void MaybeReload();

  AuthConfig cfg_;
  Policy policy_;
  TokenSigner signer_;
  std::string cache_key_;  // random; keys the credential cache
  std::mutex mu_;
  std::shared_ptr<const Htpasswd> users_;
  int64_t file_mtime_ = 0;
  std::atomic<int64_t> next_stat_ms_{0};
  std::unordered_map<std::string, Cached> cache_;
  struct Failures {
    int64_t window_start_ms = 0;
    int count = 0;
  };
  std::unordered_map<std::string, Failures> failures_;
};

}  // namespace wharf::auth
