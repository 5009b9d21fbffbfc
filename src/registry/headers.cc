#include "registry/headers.h"

namespace wharf::registry {

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
