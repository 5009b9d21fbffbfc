// libFuzzer target: what upstream registries send back to the proxy, i.e.
// WWW-Authenticate challenges, the URLs of token realms and redirects,
// error bodies and rate-limit headers; also the forward-proxy settings that
// choose how those URLs are reached.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/challenge.h"
#include "proxy/egress.h"
#include "proxy/registry_answer.h"
#include "proxy/url.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  wharf::proxy::Challenge ch;
  if (wharf::proxy::ParseChallenge(s, &ch)) {
    if (ch.scheme.empty()) __builtin_trap();
    auto realm = ch.params.find("realm");
    if (realm != ch.params.end()) (void)wharf::proxy::Url::Parse(realm->second);
  }
  auto u = wharf::proxy::Url::Parse(s);
  if (u.ok()) {
    if (u->host.empty() || u->path.empty() || u->path[0] != '/') __builtin_trap();
    (void)u->Resolve(s);
    (void)u->HostPort();
  }
  auto e = wharf::proxy::Egress::Make(std::string(s), std::string(s), std::string(s));
  if (e.ok() && u.ok()) {
    const wharf::proxy::EgressProxy* via = e->For(*u);
    if (via && via->url.tls) __builtin_trap();  // only http:// proxies are accepted
  }
  // Quoted in log lines and in the clients' JSON errors: one short line.
  std::string why = wharf::proxy::RegistryErrorMessage(s, 64);
  if (why.size() > 64) __builtin_trap();
  for (char c : why)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) __builtin_trap();
  if (wharf::proxy::RateLimitCount(s) < -1) __builtin_trap();
  return 0;
}
