#include "proxy/upstream.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "auth/token.h"
#include "proxy/challenge.h"
#include "proxy/registry_answer.h"
#include "util/clock.h"
#include "util/encoding.h"
#include "util/log.h"

namespace wharf::proxy {
namespace {

constexpr int kMaxRedirects = 5;
constexpr int kFailuresBeforeUnhealthy = 3;

// "Not here", or "not for you": another mirror may have it.
bool NotHere(int status) { return status == 404 || status == 401 || status == 403; }

bool Retryable(int status) { return status >= 500 || status == 429 || NotHere(status); }

}  // namespace

Upstream::Upstream(UpstreamConfig cfg, Timeouts timeouts, int unhealthy_ms)
    : cfg_(std::move(cfg)), timeouts_(timeouts), unhealthy_ms_(unhealthy_ms), client_(cfg_.ca_file, cfg_.egress) {
  for (const MirrorSpec& m : cfg_.mirrors) {
    auto u = Url::Parse(m.url);
    if (!u.ok()) continue;  // validated with the configuration
    while (u->path.size() > 1 && u->path.back() == '/') u->path.pop_back();
    if (u->path == "/") u->path.clear();
    // "https://harbor.corp/v2/dockerhub-proxy", as containerd's hosts.toml
    // names a mirror that keeps the images under a prefix (a Harbor
    // proxy-cache project, a namespace): what follows /v2 goes in front of
    // every repository name; what comes before it is the API's base path.
    std::string prefix;
    if (size_t v2 = (u->path + "/").find("/v2/"); v2 != std::string::npos) {
      prefix = u->path.substr(std::min(v2 + 4, u->path.size()));
      if (!prefix.empty()) prefix += '/';
      u->path.resize(v2);
    }
    mirrors_.push_back(Mirror{*u, std::move(prefix),
                              m.username.empty() ? std::string()
                                                 : "Basic " + Base64Encode(m.username + ":" + m.password, false)});
  }
}

void Upstream::MarkResult(Mirror& m, bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  if (ok) {
    m.failures = 0;
    m.unhealthy_until_ms = 0;
    return;
  }
  if (++m.failures >= kFailuresBeforeUnhealthy && m.unhealthy_until_ms <= MonotonicMs()) {
    m.unhealthy_until_ms = MonotonicMs() + unhealthy_ms_;
    WLOG_WARN("proxy %s: mirror %s marked unhealthy for %d ms", cfg_.name.c_str(),
              m.base.Origin().c_str(), unhealthy_ms_);
  }
}

Status Upstream::GetToken(const Mirror& m, const std::string& header, const std::string& repo,
                          std::string* token) {
  Challenge ch;
  if (!ParseChallenge(header, &ch) || ch.params["realm"].empty())
    return Status(Code::kUnavailable, "unusable auth challenge: " + header);
  std::string scope = ch.params.count("scope") ? ch.params["scope"] : "repository:" + repo + ":pull";
  const std::string key = m.base.Origin() + " " + scope;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tokens_.find(key);
    if (it != tokens_.end() && it->second.expires_ms > MonotonicMs()) {
      *token = it->second.value;
      return Status();
    }
  }
  auto realm = Url::Parse(ch.params["realm"]);
  if (!realm.ok()) return Status(Code::kUnavailable, "bad token realm: " + ch.params["realm"]);
  std::string q = realm->path.find('?') == std::string::npos ? "?" : "&";
  if (ch.params.count("service")) q += "service=" + UrlEncode(ch.params["service"]) + "&";
  q += "scope=" + UrlEncode(scope);
  realm->path += q;
  ClientRequest req;
  req.url = *realm;
  if (!m.basic_auth.empty()) req.headers.emplace_back("Authorization", m.basic_auth);
  ClientResponse resp;
  std::string body;
  Status st = client_.Do(req, timeouts_, &resp, [&](std::string_view d) {
    if (body.size() + d.size() > 1 << 20) return Status(Code::kTooLarge, "token response too large");
    body.append(d);
    return Status();
  });
  if (!st.ok()) return st;
  if (resp.status != 200)
    return Status(Code::kUnavailable, "token service " + realm->HostPort() + " answered " +
                                          std::to_string(resp.status));
  auto j = nlohmann::json::parse(body, nullptr, false);
  std::string t;
  if (j.is_object()) {
    if (j.contains("token") && j["token"].is_string()) t = j["token"].get<std::string>();
    else if (j.contains("access_token") && j["access_token"].is_string())
      t = j["access_token"].get<std::string>();
  }
  if (t.empty()) return Status(Code::kUnavailable, "token service gave no token");
  int64_t ttl = 60;
  if (j.contains("expires_in") && j["expires_in"].is_number_integer())
    ttl = std::max<int64_t>(j["expires_in"].get<int64_t>(), 10);
  {
    std::lock_guard<std::mutex> lock(mu_);
    tokens_[key] = Token{t, MonotonicMs() + (ttl - 5) * 1000};  // renew a little early
  }
  *token = t;
  return Status();
}

Status Upstream::Attempt(Mirror& m, const std::string& method, const std::string& our_repo,
                         const std::string& our_path, const FetchOptions& opt, uint64_t* offset,
                         ClientResponse* resp, const BodyFn& on_body) {
  // The mirror's names: its prefix in front of ours ("/v2/<repo>/..." in).
  const std::string repo = m.repo_prefix + our_repo;
  Url url = m.base;
  url.path = m.base.path + "/v2/" + m.repo_prefix + our_path.substr(4);
  std::string authz;
  {
    // Reuse what the last challenge taught us, so a pull does not pay a 401
    // round trip per request.
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tokens_.find(m.base.Origin() + " repository:" + repo + ":pull");
    if (it != tokens_.end() && it->second.expires_ms > MonotonicMs())
      authz = "Bearer " + it->second.value;
    else if (m.basic)
      authz = m.basic_auth;
  }
  bool tried_auth = false;
  for (int hop = 0; hop <= kMaxRedirects;) {
    ClientRequest req;
    req.method = method;
    req.url = url;
    req.headers = opt.headers;
    req.on_sent = opt.on_sent;
    const bool same_origin = url.Origin() == m.base.Origin();
    if (!authz.empty() && same_origin) req.headers.emplace_back("Authorization", authz);
    const uint64_t start = *offset;  // bytes the caller already has
    if (start > 0) req.headers.emplace_back("Range", "bytes=" + std::to_string(start) + "-");
    uint64_t skip = 0;  // for a 200 answer to a Range request
    std::string error_body;
    Status st = client_.Do(req, timeouts_, resp, [&](std::string_view d) -> Status {
      if (resp->status / 100 != 2) {
        if (error_body.size() < 4096) error_body.append(d.substr(0, 4096 - error_body.size()));
        return Status();
      }
      if (start > 0 && resp->status == 200 && skip < start) {
        uint64_t drop = std::min<uint64_t>(start - skip, d.size());
        skip += drop;
        d.remove_prefix(drop);
        if (d.empty()) return Status();
      }
      Status s = on_body(d);
      if (s.ok()) *offset += d.size();
      return s;
    });
    if (!st.ok()) return st;
    if (same_origin) NoteRateLimit(m, *resp);
    if (resp->status / 100 != 2) resp->error_message = RegistryErrorMessage(error_body);
    if (resp->status == 401 && !tried_auth) {
      tried_auth = true;
      std::string ch = resp->Header("www-authenticate");
      if (ch.size() >= 6 && (ch.compare(0, 6, "Bearer") == 0 || ch.compare(0, 6, "bearer") == 0)) {
        std::string token;
        st = GetToken(m, ch, repo, &token);
        if (!st.ok()) return st;
        authz = "Bearer " + token;
        continue;
      }
      if (!m.basic_auth.empty()) {
        authz = m.basic_auth;
        std::lock_guard<std::mutex> lock(mu_);
        m.basic = true;
        continue;
      }
      return Status();  // a 401 we cannot answer: the caller sees it
    }
    if (resp->status >= 300 && resp->status < 400 && resp->status != 304) {
      auto next = url.Resolve(resp->Header("location"));
      if (!next.ok()) return Status(Code::kUnavailable, "bad redirect: " + next.status().message());
      url = *next;  // followed without Authorization (presigned URLs reject it)
      ++hop;
      continue;
    }
    return Status();
  }
  return Status(Code::kUnavailable, "too many redirects");
}

void Upstream::MarkDown(Mirror& m) {
  m.failures = kFailuresBeforeUnhealthy;
  m.unhealthy_until_ms = MonotonicMs() + unhealthy_ms_;
}

void Upstream::MarkBad(const std::string& origin) {
  std::lock_guard<std::mutex> lock(mu_);
  for (Mirror& m : mirrors_) {
    if (m.base.Origin() != origin) continue;
    MarkDown(m);
    WLOG_WARN("proxy %s: mirror %s sent bad content; skipped for %d ms", cfg_.name.c_str(),
              origin.c_str(), unhealthy_ms_);
  }
}

void Upstream::Probe(size_t i) {
  Mirror& m = mirrors_[i];  // base is never written after construction
  ClientRequest req;
  req.url = m.base;
  req.url.path = m.base.path + "/v2/";
  ClientResponse resp;
  const int64_t start = MonotonicMs();
  Status st = client_.Do(req, timeouts_, &resp, [](std::string_view) { return Status(); });
  if (st.ok() && (resp.status == 200 || resp.status == 401)) {
    MarkResult(m, true);
    WLOG_INFO("proxy %s: mirror %s answers (%d in %lld ms)", cfg_.name.c_str(), m.base.Origin().c_str(),
              resp.status, static_cast<long long>(MonotonicMs() - start));
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    MarkDown(m);
  }
  WLOG_WARN("proxy %s: mirror %s is not usable (%s); skipped for %d ms", cfg_.name.c_str(),
            m.base.Origin().c_str(), st.ok() ? ("/v2/ answered " + std::to_string(resp.status)).c_str()
                                             : st.message().c_str(),
            unhealthy_ms_);
}

std::vector<Upstream::MirrorState> Upstream::Mirrors() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<MirrorState> out;
  const int64_t now = MonotonicMs();
  for (const Mirror& m : mirrors_)
    out.push_back(MirrorState{m.base.Origin(), m.unhealthy_until_ms <= now, m.ratelimit_limit,
                              m.ratelimit_remaining});
  return out;
}

void Upstream::NoteRateLimit(Mirror& m, const ClientResponse& resp) {
  const int64_t limit = RateLimitCount(resp.Header("ratelimit-limit"));
  const int64_t remaining = RateLimitCount(resp.Header("ratelimit-remaining"));
  if (limit < 0 && remaining < 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  m.ratelimit_limit = limit;
  m.ratelimit_remaining = remaining;
}

void Upstream::NoteRetryAfter(const ClientResponse& resp) {
  // Delta-seconds only, as registries send it; a day at most, so that a
  // wrong answer cannot tell clients to stay away for a month.
  const int64_t secs = std::min<int64_t>(RateLimitCount(resp.Header("retry-after")), 86400);
  if (secs < 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  retry_until_ms_ = MonotonicMs() + secs * 1000;
}

int64_t Upstream::RetryAfterSeconds() {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t left = retry_until_ms_ - MonotonicMs();
  return left > 0 ? (left + 999) / 1000 : 0;
}

Status Upstream::Fetch(const std::string& method, const std::string& repo, const std::string& path,
                       const FetchOptions& opt, ClientResponse* resp, const BodyFn& on_body,
                       std::string* served_by) {
  if (mirrors_.empty()) return Status(Code::kUnavailable, "no mirrors configured for " + cfg_.name);
  std::vector<Mirror*> order;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now = MonotonicMs();
    for (Mirror& m : mirrors_)
      if (m.unhealthy_until_ms <= now) order.push_back(&m);
    for (Mirror& m : mirrors_)  // sick mirrors last: better than nothing
      if (m.unhealthy_until_ms > now) order.push_back(&m);
  }
  // The caller's own errors stop the transfer and are never the mirror's
  // fault (a full disk, no descriptor for the file), except kInvalid: the
  // mirror's bytes are wrong (see Fetch in upstream.h).
  bool refused = false;
  const BodyFn body = [&](std::string_view d) {
    Status s = on_body(d);
    refused = !s.ok();
    return s;
  };
  uint64_t offset = 0;
  std::string failures;  // every mirror's failure, for the caller's message
  ClientResponse answer;
  bool have_answer = false;
  for (size_t i = 0; i < order.size(); ++i) {
    Mirror& m = *order[i];
    // A cut body is retried once on the same mirror, then on the next ones.
    for (int again = 0; again < 2; ++again) {
      uint64_t before = offset;
      Status st = Attempt(m, method, repo, path, opt, &offset, resp, body);
      if (st.ok() && !Retryable(resp->status)) {
        MarkResult(m, true);
        if (served_by) *served_by = m.base.Origin();
        return Status();
      }
      std::string why;
      bool bad = false;
      if (st.ok()) {
        if (resp->status == 429) NoteRetryAfter(*resp);
        answer = *resp;
        have_answer = true;
        why = m.base.Origin() + " answered " + std::to_string(resp->status) +
              (resp->error_message.empty() ? "" : " (" + resp->error_message + ")");
      } else if (refused && st.code() == Code::kInvalid && offset == before) {
        why = m.base.Origin() + " sent bad content: " + st.message();
        bad = true;
      } else if (refused || st.code() != Code::kUnavailable) {
        return st;
      } else {
        why = st.message();
      }
      const bool not_here = st.ok() && NotHere(resp->status);
      const log::Level level = not_here ? log::Level::kInfo : log::Level::kWarn;
      if (log::Enabled(level))
        log::Write(level, "proxy %s: %s %s via %s: %s", cfg_.name.c_str(), method.c_str(), path.c_str(),
                   m.base.Origin().c_str(), why.c_str());
      failures += (failures.empty() ? "" : "; ") + why;
      if (bad)
        MarkBad(m.base.Origin());
      else
        MarkResult(m, not_here);  // a mirror that answers is not sick
      if (offset == before || offset == 0) break;  // nothing new arrived: next mirror
    }
  }
  if (!have_answer) {
    *resp = ClientResponse();
  } else {
    *resp = std::move(answer);
    // Nobody has it (or lets us have it): an answer, not an outage.
    if (NotHere(resp->status)) return Status();
  }
  return Status(Code::kUnavailable, failures);
}

}  // namespace wharf::proxy
