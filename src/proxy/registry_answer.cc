#include "proxy/registry_answer.h"

#include <charconv>

#include <nlohmann/json.hpp>

#include "util/ascii.h"

namespace wharf::proxy {

std::string RegistryErrorMessage(std::string_view body, size_t max_chars) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("errors") || !j["errors"].is_array() || j["errors"].empty())
    return {};
  const auto& e = j["errors"][0];
  if (!e.is_object()) return {};
  auto text = [&](const char* key) {
    auto it = e.find(key);
    return it != e.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string code = text("code"), message = text("message");
  std::string out = code.empty() || message.empty() ? code + message : code + ": " + message;
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  if (out.size() > max_chars) {
    size_t cut = max_chars;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
  }
  return out;
}

int64_t RateLimitCount(std::string_view value) {
  std::string_view count = TrimAsciiSpace(value.substr(0, value.find(';')));
  int64_t n = -1;
  auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), n);
  return ec == std::errc() && end == count.data() + count.size() && n >= 0 ? n : -1;
}

}  // namespace wharf::proxy
