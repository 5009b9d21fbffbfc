#include "registry/names.h"

namespace wharf::registry {
namespace {

bool Alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool ValidComponent(std::string_view c) {
  size_t i = 0;
  const size_t n = c.size();
  if (n == 0 || !Alnum(c[0])) return false;
  while (i < n) {
    while (i < n && Alnum(c[i])) ++i;
    if (i == n) return true;
    // separator
    if (c[i] == '.') {
      ++i;
    } else if (c[i] == '_') {
      ++i;
      if (i < n && c[i] == '_') ++i;
    } else if (c[i] == '-') {
      while (i < n && c[i] == '-') ++i;
    } else {
      return false;
    }
    if (i == n || !Alnum(c[i])) return false;
  }
  return true;
}

bool RestrictedName(std::string_view s) {
  if (s.empty() || s.size() > 127) return false;
  auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '!' || c == '#' || c == '$' || c == '&' || c == '-' || c == '^' || c == '_' ||
           c == '.' || c == '+';
  };
  if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= '0' && s[0] <= '9')))
    return false;
  for (char c : s)
    if (!ok(c)) return false;
  return true;
}

}  // namespace

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  while (true) {
    size_t slash = name.find('/');
    if (!ValidComponent(name.substr(0, slash))) return false;
    if (slash == std::string_view::npos) return true;
    name.remove_prefix(slash + 1);
  }
}

bool ValidTag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) return false;
  auto word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  if (!word(tag[0])) return false;
  for (char c : tag)
    if (!word(c) && c != '.' && c != '-') return false;
  return true;
}

bool ValidMediaType(std::string_view mt) {
  std::string_view base = mt.substr(0, mt.find(';'));
  while (!base.empty() && base.back() == ' ') base.remove_suffix(1);
  size_t slash = base.find('/');
  if (slash == std::string_view::npos) return false;
  if (!RestrictedName(base.substr(0, slash)) || !RestrictedName(base.substr(slash + 1)))
    return false;
  for (char c : mt)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  return mt.size() <= 255;
}

}  // namespace wharf::registry
