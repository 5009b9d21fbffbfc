#include "util/status.h"

#include <cerrno>
#include <cstring>

namespace wharf {

const char* CodeName(Code c) {
  switch (c) {
    case Code::kOk: return "ok";
    case Code::kInvalid: return "invalid";
    case Code::kNotFound: return "not found";
    case Code::kExists: return "exists";
    case Code::kTooLarge: return "too large";
    case Code::kRange: return "range";
    case Code::kUnsupported: return "unsupported";
    case Code::kDenied: return "denied";
    case Code::kNoSpace: return "no space";
    case Code::kIO: return "i/o error";
    case Code::kUnavailable: return "unavailable";
    case Code::kInternal: return "internal";
  }
  return "unknown";
}

Status Status::FromErrno(int err, std::string_view what) {
  // Out of descriptors is transient (they come back as connections close).
  Code c = (err == ENOSPC || err == EDQUOT)  ? Code::kNoSpace
           : (err == ENOENT)                 ? Code::kNotFound
           : (err == EEXIST)                 ? Code::kExists
           : (err == EMFILE || err == ENFILE) ? Code::kUnavailable
                                             : Code::kIO;
  std::string m(what);
  m += ": ";
  m += std::strerror(err);
  return Status(c, std::move(m));
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(CodeName(code_)) + ": " + message_;
}

}  // namespace wharf
