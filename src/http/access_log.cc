#include "http/access_log.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "util/clock.h"

namespace wharf::http {
namespace {

// Appends `s` JSON-escaped into buf[*n..cap); truncates quietly at the end.
void AppendEscaped(char* buf, size_t cap, size_t* n, std::string_view s) {
  for (unsigned char c : s) {
    if (*n + 7 >= cap) return;
    if (c == '"' || c == '\\') {
      buf[(*n)++] = '\\';
      buf[(*n)++] = static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      *n += snprintf(buf + *n, cap - *n, "\\u%04x", c);
    } else {
      buf[(*n)++] = static_cast<char>(c);
    }
  }
}

}  // namespace

void AccessLog::Write(const AccessRecord& r) const {
  if (fmt_ == AccessLogFormat::kOff) return;
  char buf[4096];
  char when[32];
  FormatUtcNow(when, sizeof when, 3);
  size_t n = 0;
  if (fmt_ == AccessLogFormat::kJson) {
    n += snprintf(buf, sizeof buf, "{\"time\":\"%s\",\"client\":\"", when);
    AppendEscaped(buf, sizeof buf - 160, &n, r.client);
    n += snprintf(buf + n, sizeof buf - n, "\",\"method\":\"");
    AppendEscaped(buf, sizeof buf - 160, &n, r.method);
    n += snprintf(buf + n, sizeof buf - n, "\",\"path\":\"");
    AppendEscaped(buf, sizeof buf - 160, &n, r.target);
    n += snprintf(buf + n, sizeof buf - n,
                  "\",\"status\":%d,\"bytes\":%llu,\"duration_ms\":%.3f,\"request_id\":\"%.*s\"}\n",
                  r.status, static_cast<unsigned long long>(r.bytes_out), r.micros / 1000.0,
                  static_cast<int>(r.id.size()), r.id.data());
  } else {
    // Text: the target is printed with control bytes escaped, so a request
    // cannot forge log lines.
    n += snprintf(buf, sizeof buf, "%s %.*s %.*s ", when, static_cast<int>(r.client.size()),
                  r.client.data(), static_cast<int>(r.method.size()), r.method.data());
    AppendEscaped(buf, sizeof buf - 160, &n, r.target);
    n += snprintf(buf + n, sizeof buf - n, " %d %llu %.3fms req=%.*s\n", r.status,
                  static_cast<unsigned long long>(r.bytes_out), r.micros / 1000.0,
                  static_cast<int>(r.id.size()), r.id.data());
  }
  if (n > sizeof buf) n = sizeof buf;
  ssize_t ignored = ::write(STDOUT_FILENO, buf, n);
  (void)ignored;  // a full or closed stdout must not stop the server
}

}  // namespace wharf::http
