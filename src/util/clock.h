// Clocks in milliseconds. WallMs() is for timestamps that are stored or
// compared across restarts; MonotonicMs() for intervals and deadlines.
#pragma once

#include <chrono>
#include <cstdint>

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

}  // namespace wharf
