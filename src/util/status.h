// Status and Result<T>: errors as values.
//
// Every fallible call in Wharf returns a Status (no value) or a Result<T>
// (a value or a Status). Exceptions never cross a module boundary and never
// reach an event loop. A default-constructed Status is OK. Both types are
// cheap to move; an OK Status holds no allocation.
//
// Thread-safety: plain values; no shared state.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace wharf {

enum class Code {
  kOk = 0,
  kInvalid,      // the caller's input is malformed
  kNotFound,     // the named thing does not exist
  kExists,       // it exists already
  kTooLarge,     // over a configured limit
  kRange,        // a range or offset does not fit
  kUnsupported,  // switched off or not implemented by design
  kDenied,       // refused by policy
  kNoSpace,      // the disk is full (ENOSPC, EDQUOT)
  kIO,           // an operating-system or storage error
  kUnavailable,  // a peer or resource is temporarily unavailable
  kInternal,     // a broken invariant: a bug
};

const char* CodeName(Code c);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  // Builds kIO or kNoSpace from an errno value; `what` names the operation.
  static Status FromErrno(int err, std::string_view what);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status Invalid(std::string m) { return Status(Code::kInvalid, std::move(m)); }
inline Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
inline Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }

// A value or the Status explaining why there is none.
// REQUIRES: value() only when ok(); status() is OK when ok().
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}   // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  Status status() const { return ok() ? Status() : std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace wharf

#define WHARF_RETURN_IF_ERROR(expr)        \
  do {                                     \
    ::wharf::Status _st = (expr);          \
    if (!_st.ok()) return _st;             \
  } while (0)
