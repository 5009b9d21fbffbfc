#include "registry/range.h"

#include <charconv>

#include "util/ascii.h"

namespace wharf::registry {
namespace {

bool Number(std::string_view s, uint64_t* v) {
  if (s.empty() || s.size() > 19) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

RangeResult ParseRange(std::string_view header, uint64_t size, ByteRange* out) {
  header = TrimAsciiSpace(header);
  if (header.substr(0, 6) != "bytes=") return RangeResult::kNone;
  std::string_view spec = TrimAsciiSpace(header.substr(6));
  if (spec.find(',') != std::string_view::npos) return RangeResult::kNone;
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return RangeResult::kNone;
  std::string_view a = TrimAsciiSpace(spec.substr(0, dash)), b = TrimAsciiSpace(spec.substr(dash + 1));
  uint64_t first, last;
  if (a.empty()) {  // suffix: the last n bytes
    uint64_t n;
    if (!Number(b, &n)) return RangeResult::kNone;
    if (n == 0 || size == 0) return RangeResult::kUnsatisfiable;
    first = n >= size ? 0 : size - n;
    last = size - 1;
  } else {
    if (!Number(a, &first)) return RangeResult::kNone;
    if (b.empty()) {
      last = size ? size - 1 : 0;
    } else {
      if (!Number(b, &last) || last < first) return RangeResult::kNone;
      if (last >= size) last = size ? size - 1 : 0;
    }
    if (first >= size) return RangeResult::kUnsatisfiable;
  }
  out->first = first;
  out->last = last;
  return RangeResult::kOk;
}

bool ParseContentRange(std::string_view header, ByteRange* out) {
  std::string_view s = TrimAsciiSpace(header);
  if (s.substr(0, 6) == "bytes=") s.remove_prefix(6);
  else if (s.substr(0, 6) == "bytes ") s.remove_prefix(6);
  size_t slash = s.find('/');
  if (slash != std::string_view::npos) s = s.substr(0, slash);
  s = TrimAsciiSpace(s);
  size_t dash = s.find('-');
  if (dash == std::string_view::npos) return false;
  uint64_t a, b;
  if (!Number(s.substr(0, dash), &a) || !Number(s.substr(dash + 1), &b) || b < a) return false;
  out->first = a;
  out->last = b;
  return true;
}

}  // namespace wharf::registry
