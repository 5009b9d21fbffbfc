// libFuzzer target: Range (downloads) and Content-Range (uploads) parsing,
// with the invariants the senders rely on checked.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "registry/range.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  uint64_t body_size;
  memcpy(&body_size, data, 8);
  body_size %= (1ull << 50);
  std::string_view h(reinterpret_cast<const char*>(data + 8), size - 8);
  wharf::registry::ByteRange r{};
  if (wharf::registry::ParseRange(h, body_size, &r) == wharf::registry::RangeResult::kOk) {
    if (r.first > r.last || r.last >= body_size || r.length() != r.last - r.first + 1) __builtin_trap();
  }
  wharf::registry::ByteRange c{};
  if (wharf::registry::ParseContentRange(h, &c) && c.last < c.first) __builtin_trap();
  return 0;
}
