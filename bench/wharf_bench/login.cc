#include "login.h"

#include <netdb.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "proxy/challenge.h"
#include "util/encoding.h"

namespace wharf::bench {

Reply SyncCall(uv_loop_t* loop, Conn* c, Call call, std::string* err) {
  Reply out;
  bool done = false;
  c->Send(std::move(call), [&](const std::string& e, Reply& r) {
    *err = e;
    out = std::move(r);
    done = true;
  });
  while (!done) uv_run(loop, UV_RUN_ONCE);
  return out;
}

bool ParseUrl(const std::string& url, Target* t, std::string* path) {
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    t->tls = true;
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else {
    return false;
  }
  size_t slash = rest.find('/');
  std::string hp = rest.substr(0, slash);
  *path = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = hp.rfind(':');
  t->host = colon == std::string::npos ? hp : hp.substr(0, colon);
  t->port = colon == std::string::npos ? (t->tls ? 443 : 80)
                                       : static_cast<uint16_t>(atoi(hp.c_str() + colon + 1));
  addrinfo hints{}, *ai = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(t->host.c_str(), std::to_string(t->port).c_str(), &hints, &ai) != 0) return false;
  memcpy(&t->addr, ai->ai_addr, ai->ai_addrlen);
  t->addr_len = static_cast<socklen_t>(ai->ai_addrlen);
  freeaddrinfo(ai);
  return true;
}

namespace {

std::string Basic(const std::string& user) { return "Basic " + Base64Encode(user, false); }

// GET realm?service=..&scope=.. and return the token from the JSON answer.
bool FetchToken(uv_loop_t* loop, const Target& registry, const proxy::Challenge& ch,
                const std::string& user, const std::vector<std::string>& scopes,
                std::string* token, std::string* err) {
  auto realm = ch.params.find("realm");
  if (realm == ch.params.end()) {
    *err = "Bearer challenge without a realm";
    return false;
  }
  Target t;
  std::string path;
  if (!ParseUrl(realm->second, &t, &path)) {
    *err = "cannot resolve the token realm " + realm->second;
    return false;
  }
  t.ctx = registry.ctx;
  if (t.tls && !t.ctx) {
    *err = "the token realm is https but the registry URL is not; cannot verify it";
    return false;
  }
  std::string q;
  auto add = [&](const char* k, const std::string& v) {
    q.append(q.empty() && path.find('?') == std::string::npos ? "?" : "&");
    q.append(k).append("=").append(UrlEncode(v));
  };
  if (auto s = ch.params.find("service"); s != ch.params.end()) add("service", s->second);
  for (const auto& s : scopes) add("scope", s);
  Conn c(loop, &t);
  Call call;
  call.path = path + q;
  call.keep_body = true;
  if (!user.empty()) call.headers.emplace_back("Authorization", Basic(user));
  Reply r = SyncCall(loop, &c, call, err);
  if (!err->empty()) return false;
  if (r.status != 200) {
    *err = "token request answered " + std::to_string(r.status);
    return false;
  }
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object()) *token = j.value("token", j.value("access_token", ""));
  if (token->empty()) *err = "token response without a token";
  return !token->empty();
}

}  // namespace

bool Login(uv_loop_t* loop, const Target& registry, const std::string& user,
           const std::vector<std::string>& scopes, std::string* authorization, std::string* err) {
  authorization->clear();
  bool ok = false;
  {
    Conn c(loop, &registry);
    Call ping;
    ping.path = "/v2/";
    Reply r = SyncCall(loop, &c, ping, err);
    if (!err->empty()) {
      *err = "ping failed: " + *err;
    } else if (r.status != 401) {
      // An open registry, or a plain file server (nginx in bench/compare.sh)
      // that has no /v2/ at all: either way nothing asks for credentials.
      ok = true;
    } else {
      proxy::Challenge ch;
      if (!proxy::ParseChallenge(r.Header("www-authenticate"), &ch)) {
        *err = "401 without a usable WWW-Authenticate challenge";
      } else if (ch.scheme == "basic") {
        if (user.empty()) *err = "the registry wants Basic credentials: pass --user";
        else *authorization = Basic(user), ok = true;
      } else if (ch.scheme == "bearer") {
        std::string token;
        ok = FetchToken(loop, registry, ch, user, scopes, &token, err);
        if (ok) *authorization = "Bearer " + token;
      } else {
        *err = "unsupported auth scheme " + ch.scheme;
      }
    }
  }
  uv_run(loop, UV_RUN_DEFAULT);  // let the connections close
  return ok;
}

}  // namespace wharf::bench
