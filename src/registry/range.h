// Byte ranges: the Range header of blob GETs and the Content-Range header of
// chunked upload PATCHes. Pure functions; no I/O.
#pragma once

#include <cstdint>
#include <string_view>

namespace wharf::registry {

struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
  uint64_t length() const { return last - first + 1; }
};

enum class RangeResult {
  kNone,           // no usable Range header: send the whole body (200)
  kOk,             // one satisfiable range (206)
  kUnsatisfiable,  // 416 with "Content-Range: bytes */size"
};

// Parses a Range header against a body of `size` bytes. Only a single
// "bytes=" range is honoured ("a-b", "a-", "-n"); anything else (several
// ranges, other units, syntax errors) is ignored, as RFC 9110 allows.
RangeResult ParseRange(std::string_view header, uint64_t size, ByteRange* out);

// Parses an upload Content-Range: "a-b" (what docker sends), "bytes a-b/*"
// or "bytes=a-b". Returns false on malformed input or b < a.
bool ParseContentRange(std::string_view header, ByteRange* out);

}  // namespace wharf::registry
