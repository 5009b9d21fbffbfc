// RequestParser: the llhttp adapter. Turns bytes into Request heads, body
// chunks and message ends, and enforces the head limits.
//
// Contract:
//  - Feed() parses as much of `data` as it can and reports how many bytes it
//    consumed. It stops early (kPaused) right after each complete message, so
//    pipelined requests are answered strictly one at a time; the caller keeps
//    the unconsumed bytes and calls Resume() then Feed() again once the
//    response is out.
//  - Body bytes are passed to ParserEvents::OnBody as they arrive; nothing is
//    buffered here, so the size of a body does not matter.
//  - Limit violations and malformed input end in kError with error() set to
//    the HTTP status (400, 414, 431, 501, 505) and a message. After kError or
//    kStopped the parser must not be fed again: the connection closes.
//
// Thread-safety: one parser per connection, used by its worker loop only.
#pragma once

#include <llhttp.h>

#include <string>
#include <string_view>

#include "config/config.h"
#include "http/request.h"

namespace wharf::http {

class ParserEvents {
 public:
  // kPause: stop (from OnHead: before the body; from OnBody: after this
  // chunk, which counts as consumed); Feed() returns kPaused until Resume(),
  // then Feed() continues with the rest of the message.
  enum class Action { kContinue, kStop, kPause };
  virtual ~ParserEvents() = default;
  // The head (request line and headers) is complete.
  virtual Action OnHead(Request& req) = 0;
  // The next piece of the body; `chunk` is valid only during the call.
  virtual Action OnBody(std::string_view chunk) = 0;
  // The whole message has been read. Parsing pauses after this returns.
  virtual void OnMessageComplete(Request& req) = 0;
};

struct ParseError {
  int status = 0;
  std::string code;     // OCI-style error code
  std::string message;
};

class RequestParser {
 public:
  enum class State { kNeedMore, kPaused, kStopped, kError };

  // `limits` and `events` must outlive the parser.
  RequestParser(const Limits& limits, ParserEvents* events);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses from `data`; *consumed gets the number of bytes used.
  State Feed(std::string_view data, size_t* consumed);
  // Continues after kPaused.
  void Resume();
  // True between the first byte of a request and its end.
  bool InMessage() const { return in_message_; }
  // True once the head of the current message is complete.
  bool HeadDone() const { return head_done_; }
  const ParseError& error() const { return error_; }
  Request& request() { return req_; }

 private:
  static const llhttp_settings_t* Settings();
  static int OnMessageBegin(llhttp_t* p);
  static int OnUrl(llhttp_t* p, const char* at, size_t len);
  static int OnHeaderField(llhttp_t* p, const char* at, size_t len);
  static int OnHeaderValue(llhttp_t* p, const char* at, size_t len);
  static int OnHeadersComplete(llhttp_t* p);
  static int OnBodyCb(llhttp_t* p, const char* at, size_t len);
  static int OnMessageCompleteCb(llhttp_t* p);
  int Fail(int status, const char* code, std::string message);
  bool CountHeadBytes(size_t len);

  llhttp_t parser_;
  const Limits& limits_;
  ParserEvents* events_;
  Request req_;
  ParseError error_;
  size_t head_bytes_ = 0;
  bool in_value_ = false;
  bool in_message_ = false;
  bool head_done_ = false;
  bool stopped_ = false;
  bool failed_ = false;
};

}  // namespace wharf::http
