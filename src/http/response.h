// An HTTP response as handlers build it.
//
// The body is exactly one of: bytes (`body` or `shared_body`), a file range
// (`file`), a file that is still being written (`stream`), or nothing. A file range is written with sendfile(2) on plain TCP. For HEAD the
// handler sets `content_length` to what a GET would send and no body.
// The connection owns the Response and reuses it: Reset() keeps capacity and
// closes an attached file descriptor.
//
// Thread-safety: owned and used by one worker loop.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace wharf::http {

class GrowingFile;

struct FileRange {
  int fd = -1;           // owned by the Response once set
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct Response {
  int status = 0;        // 0 = not answered yet
  std::string headers;   // extra header lines, each "Name: value\r\n"
  std::string body;
  // A body shared with a cache (e.g. a manifest); sent instead of `body`.
  std::shared_ptr<const std::string> shared_body;
  FileRange file;
  std::shared_ptr<GrowingFile> stream;  // a live stream (see growing_file.h)
  uint64_t stream_offset = 0;           // the part of `stream` sent: from here,
  uint64_t stream_length = 0;           // this many bytes (see SetStream)
  std::optional<uint64_t> content_length;  // overrides the body size (HEAD)
  bool close = false;    // close the connection after this response

  Response() = default;
  Response(const Response&) = delete;
  Response& operator=(const Response&) = delete;
  ~Response() { Reset(); }

  void Reset();
  // Answers with bytes [offset, offset + length) of a live stream.
  // REQUIRES: offset + length <= s->length().
  void SetStream(int status, std::shared_ptr<GrowingFile> s, uint64_t offset, uint64_t length);
  bool answered() const { return status != 0; }

  void AddHeader(std::string_view name, std::string_view value);
  void AddHeader(std::string_view name, uint64_t value);
  // Sets status, Content-Type and body in one go.
  void Set(int status, std::string_view content_type, std::string body);
  // Sends `length` bytes of `fd` from `offset`; takes ownership of fd.
  void SetFile(int status, int fd, uint64_t offset, uint64_t length);
  // An error in the OCI distribution error format:
  //   {"errors":[{"code":"…","message":"…","detail":…}]}
  // `detail_json` must be valid JSON or empty (then detail is omitted).
  void Error(int status, std::string_view code, std::string_view message,
             std::string_view detail_json = {});

  // The size of the body that a GET would carry.
  uint64_t BodySize() const;
  // The value of a header added with AddHeader (exact name), or empty.
  std::string_view Header(std::string_view name) const;
  // The bytes body (shared or own).
  std::string_view Bytes() const { return shared_body ? std::string_view(*shared_body) : body; }
};

// A complete, self-contained error response (status line, headers with
// "Connection: close", OCI error body), for answers written straight to a
// socket outside the normal request path. `extra_headers` are lines ending
// in "\r\n".
std::string CannedError(int status, std::string_view code, std::string_view message,
                        std::string_view extra_headers = {});

// The reason phrase for a status code ("Not Found").
const char* StatusText(int status);

// Appends `s` to `out` as the inside of a JSON string literal.
void AppendJsonEscaped(std::string* out, std::string_view s);

}  // namespace wharf::http
