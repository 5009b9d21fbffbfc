#include "auth/token.h"

#include "util/encoding.h"
#include "util/json_text.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/mem.h>

#include <nlohmann/json.hpp>

namespace wharf::auth {
namespace {

using json = nlohmann::json;

std::string Hmac(const std::string& key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &n);
  return std::string(reinterpret_cast<char*>(out), n);
}

}  // namespace

bool Claims::Allows(const std::string& type, const std::string& name,
                    const std::string& action) const {
  for (const Grant& g : access)
    if (g.type == type && g.name == name && (g.actions.count(action) || g.actions.count("*")))
      return true;
  return false;
}

bool ParseScope(const std::string& scope, Grant* out) {
  size_t a = scope.find(':');
  size_t b = scope.rfind(':');
  if (a == std::string::npos || b == a) return false;
  out->type = scope.substr(0, a);
  out->name = scope.substr(a + 1, b - a - 1);
  out->actions.clear();
  std::string acts = scope.substr(b + 1);
  size_t pos = 0;
  while (pos <= acts.size()) {
    size_t comma = acts.find(',', pos);
    std::string one = acts.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (!one.empty()) out->actions.insert(one);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return !out->type.empty() && !out->name.empty() && !out->actions.empty();
}

TokenSigner::TokenSigner(std::string key) : key_(std::move(key)) {}

std::string TokenSigner::Sign(const Claims& c) const {
  json access = json::array();
  for (const Grant& g : c.access)
    access.push_back({{"type", g.type}, {"name", g.name}, {"actions", g.actions}});
  json payload = {{"sub", c.subject}, {"exp", c.expires}, {"access", access}};
  if (c.refresh) {
    payload["typ"] = "refresh";
    payload["bind"] = c.binding;
  }
  std::string p = Base64Encode(JsonText(payload), true);
  return p + "." + Base64Encode(Hmac(key_, p), true);
}

std::string TokenSigner::Mac(std::string_view data) const { return Hmac(key_, data); }

Result<Claims> TokenSigner::Verify(const std::string& token, int64_t now) const {
  size_t dot = token.find('.');
  if (dot == std::string::npos) return Invalid("malformed token");
  std::string p = token.substr(0, dot), sig;
  if (!Base64Decode(token.substr(dot + 1), true, &sig)) return Invalid("malformed token");
  std::string want = Hmac(key_, p);
  if (sig.size() != want.size() || CRYPTO_memcmp(sig.data(), want.data(), want.size()) != 0)
    return Invalid("bad token signature");
  std::string text;
  if (!Base64Decode(p, true, &text)) return Invalid("malformed token");
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("exp") || !j["exp"].is_number_integer())
    return Invalid("malformed token");
  Claims c;
  c.subject = j.value("sub", "");
  c.expires = j["exp"].get<int64_t>();
  if (c.expires <= now) return Invalid("token expired");
  c.refresh = j.value("typ", "") == "refresh";
  c.binding = j.value("bind", "");
  if (j.contains("access") && j["access"].is_array()) {
    for (const json& a : j["access"]) {
      if (!a.is_object()) continue;
      Grant g;
      g.type = a.value("type", "");
      g.name = a.value("name", "");
      if (a.contains("actions") && a["actions"].is_array())
        for (const json& x : a["actions"])
          if (x.is_string()) g.actions.insert(x.get<std::string>());
      c.access.push_back(std::move(g));
    }
  }
  return c;
}

}  // namespace wharf::auth
