// Access log: one line per answered request on stdout, as text or JSON.
//
// Each line is formatted into a stack buffer and written with a single
// write(2), so lines from several workers never interleave and logging does
// not allocate. Thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "config/config.h"

namespace wharf::http {

struct AccessRecord {
  std::string_view client;   // "ip:port"
  std::string_view method;
  std::string_view target;   // path and query as sent
  int status = 0;
  uint64_t bytes_out = 0;    // response bytes, head included
  uint64_t micros = 0;       // head received to response end
  std::string_view id;       // request id, as sent in X-Request-Id
};

class AccessLog {
 public:
  explicit AccessLog(AccessLogFormat fmt) : fmt_(fmt) {}
  void Write(const AccessRecord& r) const;

 private:
  AccessLogFormat fmt_;
};

}  // namespace wharf::http
