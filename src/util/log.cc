#include "util/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "util/clock.h"

namespace wharf::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
const char* kNames[] = {"debug", "info", "warn", "error"};
thread_local char t_request_id[kMaxRequestId + 1];

void CopyId(char* dst, std::string_view id) {
  size_t n = id.size() < kMaxRequestId ? id.size() : kMaxRequestId;
  memcpy(dst, id.data(), n);
  dst[n] = '\0';
}
}  // namespace

RequestScope::RequestScope(std::string_view id) {
  memcpy(prev_, t_request_id, sizeof prev_);
  CopyId(t_request_id, id);
}

RequestScope::~RequestScope() { memcpy(t_request_id, prev_, sizeof prev_); }

std::string_view CurrentRequestId() { return t_request_id; }

bool ParseLevel(std::string_view s, Level* out) {
  for (int i = 0; i < 4; ++i) {
    if (s == kNames[i]) {
      *out = static_cast<Level>(i);
      return true;
    }
  }
  return false;
}

void SetLevel(Level l) { g_level.store(static_cast<int>(l), std::memory_order_relaxed); }

bool Enabled(Level l) { return static_cast<int>(l) >= g_level.load(std::memory_order_relaxed); }

void Write(Level l, const char* fmt, ...) {
  char buf[2048];
  int n = static_cast<int>(FormatUtcNow(buf, sizeof buf, 3));
  n += snprintf(buf + n, sizeof buf - n, " %s ", kNames[static_cast<int>(l)]);
  if (t_request_id[0]) n += snprintf(buf + n, sizeof buf - n, "req=%s ", t_request_id);
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
  va_end(ap);
  if (m < 0) m = 0;
  n += m;
  if (n > static_cast<int>(sizeof buf) - 1) n = sizeof buf - 1;  // truncated line
  buf[n++] = '\n';
  ssize_t w = ::write(STDERR_FILENO, buf, n);
  (void)w;  // nowhere left to report a failed log write
}

}  // namespace wharf::log
