// Diagnostic logging to stderr.
//
// One call writes one line with a single write(2), so lines from different
// worker threads never interleave. Lines below the configured level are
// dropped before formatting. Thread-safe; the level may change at any time.
#pragma once

#include <string_view>

namespace wharf::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses "debug", "info", "warn" or "error". Returns false on anything else.
bool ParseLevel(std::string_view s, Level* out);
void SetLevel(Level l);
bool Enabled(Level l);

// The request this thread is working for. While a RequestScope lives, every
// line the thread writes carries "req=<id>", the id also returned to the
// client in X-Request-Id, so an operator can go from a client's error to the
// server's lines about it. Scopes nest; the destructor restores the outer id.
// Ids longer than kMaxRequestId bytes are truncated.
constexpr size_t kMaxRequestId = 40;
class RequestScope {
 public:
  explicit RequestScope(std::string_view id);
  ~RequestScope();
  RequestScope(const RequestScope&) = delete;
  RequestScope& operator=(const RequestScope&) = delete;

 private:
  char prev_[kMaxRequestId + 1];
};
// The innermost scope's id on this thread, or "" outside any scope.
std::string_view CurrentRequestId();

// printf-style; the line gets a timestamp, the level, the request id (if any)
// and a trailing newline.
void Write(Level l, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace wharf::log

#define WLOG_DEBUG(...) do { if (::wharf::log::Enabled(::wharf::log::Level::kDebug)) ::wharf::log::Write(::wharf::log::Level::kDebug, __VA_ARGS__); } while (0)
#define WLOG_INFO(...) do { if (::wharf::log::Enabled(::wharf::log::Level::kInfo)) ::wharf::log::Write(::wharf::log::Level::kInfo, __VA_ARGS__); } while (0)
#define WLOG_WARN(...) do { if (::wharf::log::Enabled(::wharf::log::Level::kWarn)) ::wharf::log::Write(::wharf::log::Level::kWarn, __VA_ARGS__); } while (0)
#define WLOG_ERROR(...) ::wharf::log::Write(::wharf::log::Level::kError, __VA_ARGS__)
