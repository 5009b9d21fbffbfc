#include "registry/headers.h"

namespace wharf::registry {

std::string UrlEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string ETagOf(std::string_view digest) {
  std::string e = "\"";
  e += digest;
  e += '"';
  return e;
}

bool NoneMatch(std::string_view inm, std::string_view etag) {
  while (!inm.empty()) {
    size_t comma = inm.find(',');
    std::string_view one = inm.substr(0, comma);
    while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
    while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
    if (one.substr(0, 2) == "W/") one.remove_prefix(2);
    if (one == "*" || one == etag) return true;
    if (comma == std::string_view::npos) break;
    inm.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace wharf::registry
