#include "proxy/challenge.h"

#include "util/ascii.h"

namespace wharf::proxy {
namespace {

void SkipSpace(std::string_view s, size_t* i) {
  while (*i < s.size() && (s[*i] == ' ' || s[*i] == '\t' || s[*i] == ',')) ++*i;
}

}  // namespace

bool ParseChallenge(std::string_view h, Challenge* out) {
  size_t i = 0;
  SkipSpace(h, &i);
  size_t start = i;
  while (i < h.size() && h[i] != ' ' && h[i] != '\t') ++i;
  if (i == start) return false;
  out->scheme = AsciiLower(h.substr(start, i - start));
  out->params.clear();
  while (true) {
    SkipSpace(h, &i);
    if (i >= h.size()) break;
    size_t k = i;
    while (i < h.size() && h[i] != '=' && h[i] != ' ' && h[i] != ',') ++i;
    std::string key = AsciiLower(h.substr(k, i - k));
    if (i >= h.size() || h[i] != '=') break;  // a second challenge or garbage: stop
    ++i;
    std::string value;
    if (i < h.size() && h[i] == '"') {
      ++i;
      while (i < h.size() && h[i] != '"') {
        if (h[i] == '\\' && i + 1 < h.size()) ++i;
        value += h[i++];
      }
      ++i;  // closing quote
    } else {
      size_t v = i;
      while (i < h.size() && h[i] != ',' && h[i] != ' ') ++i;
      value = std::string(h.substr(v, i - v));
    }
    if (!key.empty()) out->params[key] = value;
  }
  return true;
}

}  // namespace wharf::proxy
