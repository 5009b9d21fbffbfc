// Clocks in milliseconds. WallMs() is for timestamps that are stored or
// compared across restarts; MonotonicMs() for intervals and deadlines.
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>
#include <cstdio>

namespace wharf {

inline int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline int64_t MonotonicMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Writes the time now as RFC 3339 in UTC with `digits` (3 or 9) fractional
// digits, "2026-11-28T17:03:43.624Z", into buf (NUL-terminated; 32 bytes
// hold any). Returns its length. Does not allocate: the log writes it.
inline size_t FormatUtcNow(char* buf, size_t size, int digits) {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &t);
  const long frac = digits == 9 ? ts.tv_nsec : ts.tv_nsec / 1000000;
  n += static_cast<size_t>(snprintf(buf + n, size - n, ".%0*ldZ", digits == 9 ? 9 : 3, frac));
  return n;
}

}  // namespace wharf
