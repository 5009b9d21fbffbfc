#include "http/parser.h"

namespace wharf::http {
namespace {

RequestParser* Self(llhttp_t* p) { return static_cast<RequestParser*>(p->data); }

}  // namespace

RequestParser::RequestParser(const Limits& limits, ParserEvents* events)
    : limits_(limits), events_(events) {
  llhttp_init(&parser_, HTTP_REQUEST, Settings());
  parser_.data = this;
}

int RequestParser::Fail(int status, const char* code, std::string message) {
  failed_ = true;
  error_.status = status;
  error_.code = code;
  error_.message = std::move(message);
  return HPE_USER;
}

bool RequestParser::CountHeadBytes(size_t len) {
  head_bytes_ += len;
  return head_bytes_ <= limits_.max_header_bytes;
}

int RequestParser::OnMessageBegin(llhttp_t* p) {
  RequestParser* self = Self(p);
  self->req_.Clear();
  self->head_bytes_ = 0;
  self->in_value_ = false;
  self->in_message_ = true;
  self->head_done_ = false;
  return 0;
}

int RequestParser::OnUrl(llhttp_t* p, const char* at, size_t len) {
  RequestParser* self = Self(p);
  if (self->req_.target.size() + len > self->limits_.max_request_line)
    return self->Fail(414, "URI_TOO_LONG", "request target longer than " +
                                               std::to_string(self->limits_.max_request_line) +
                                               " bytes");
  if (!self->CountHeadBytes(len))
    return self->Fail(431, "HEADERS_TOO_LARGE", "request head too large");
  self->req_.target.append(at, len);
  return 0;
}

int RequestParser::OnHeaderField(llhttp_t* p, const char* at, size_t len) {
  RequestParser* self = Self(p);
  Request& r = self->req_;
  if (!self->CountHeadBytes(len))
    return self->Fail(431, "HEADERS_TOO_LARGE",
                      "request headers larger than " +
                          std::to_string(self->limits_.max_header_bytes) + " bytes");
  if (r.header_count == 0 || self->in_value_) {
    if (r.header_count >= self->limits_.max_headers)
      return self->Fail(431, "HEADERS_TOO_LARGE",
                        "more than " + std::to_string(self->limits_.max_headers) + " headers");
    if (r.headers.size() <= r.header_count) r.headers.emplace_back();
    ++r.header_count;
    self->in_value_ = false;
  }
  r.headers[r.header_count - 1].name.append(at, len);
  return 0;
}

int RequestParser::OnHeaderValue(llhttp_t* p, const char* at, size_t len) {
  RequestParser* self = Self(p);
  if (!self->CountHeadBytes(len))
    return self->Fail(431, "HEADERS_TOO_LARGE",
                      "request headers larger than " +
                          std::to_string(self->limits_.max_header_bytes) + " bytes");
  self->in_value_ = true;
  self->req_.headers[self->req_.header_count - 1].value.append(at, len);
  return 0;
}

int RequestParser::OnHeadersComplete(llhttp_t* p) {
  RequestParser* self = Self(p);
  Request& r = self->req_;
  self->head_done_ = true;
  r.method = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
  if (p->method == HTTP_CONNECT)
    return self->Fail(501, "UNSUPPORTED", "CONNECT is not supported");
  if (p->http_major != 1) return self->Fail(505, "UNSUPPORTED", "only HTTP/1.x is supported");
  r.http_minor = p->http_minor;
  r.has_content_length = (p->flags & F_CONTENT_LENGTH) != 0;
  r.content_length = r.has_content_length ? p->content_length : 0;
  r.chunked = (p->flags & F_CHUNKED) != 0;
  r.keep_alive = llhttp_should_keep_alive(p) != 0 && !p->upgrade;
  if (const std::string* e = r.Find("Expect")) r.expect_continue = IEquals(*e, "100-continue");
  std::string_view t = r.target;
  size_t q = t.find('?');
  r.path = t.substr(0, q);
  r.query = q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
  switch (self->events_->OnHead(r)) {
    case ParserEvents::Action::kStop:
      self->stopped_ = true;
      return HPE_PAUSED;
    case ParserEvents::Action::kPause:
      return HPE_PAUSED;
    case ParserEvents::Action::kContinue:
      break;
  }
  return 0;
}

int RequestParser::OnBodyCb(llhttp_t* p, const char* at, size_t len) {
  RequestParser* self = Self(p);
  switch (self->events_->OnBody(std::string_view(at, len))) {
    case ParserEvents::Action::kStop:
      self->stopped_ = true;
      return HPE_USER;
    case ParserEvents::Action::kPause:
      return HPE_PAUSED;  // the chunk counts as consumed: llhttp resumes after it
    case ParserEvents::Action::kContinue:
      break;
  }
  return 0;
}

int RequestParser::OnMessageCompleteCb(llhttp_t* p) {
  RequestParser* self = Self(p);
  self->in_message_ = false;
  self->events_->OnMessageComplete(self->req_);
  return HPE_PAUSED;
}

RequestParser::State RequestParser::Feed(std::string_view data, size_t* consumed) {
  *consumed = 0;
  if (failed_) return State::kError;
  if (stopped_) return State::kStopped;
  // A paused llhttp returns at once and leaves its error position pointing
  // into whatever buffer it last saw, so it cannot say what was consumed.
  if (llhttp_get_errno(&parser_) == HPE_PAUSED) return State::kPaused;
  llhttp_errno_t err = llhttp_execute(&parser_, data.data(), data.size());
  if (err == HPE_OK) {
    *consumed = data.size();
    return State::kNeedMore;
  }
  const char* pos = llhttp_get_error_pos(&parser_);
  *consumed = pos ? static_cast<size_t>(pos - data.data()) : 0;
  if (stopped_) return State::kStopped;
  if (failed_) return State::kError;
  if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
    // Upgrades are not supported: the response is the last on this connection.
    if (err == HPE_PAUSED_UPGRADE) req_.keep_alive = false;
    return State::kPaused;
  }
  error_.status = 400;
  error_.code = "BAD_REQUEST";
  error_.message = std::string("malformed request: ") + llhttp_errno_name(err) + " (" +
                   (llhttp_get_error_reason(&parser_) ? llhttp_get_error_reason(&parser_) : "") + ")";
  failed_ = true;
  return State::kError;
}

void RequestParser::Resume() {
  if (llhttp_get_errno(&parser_) == HPE_PAUSED_UPGRADE)
    llhttp_resume_after_upgrade(&parser_);
  else
    llhttp_resume(&parser_);
}

const llhttp_settings_t* RequestParser::Settings() {
  static const llhttp_settings_t s = [] {
    llhttp_settings_t x;
    llhttp_settings_init(&x);
    x.on_message_begin = OnMessageBegin;
    x.on_url = OnUrl;
    x.on_header_field = OnHeaderField;
    x.on_header_value = OnHeaderValue;
    x.on_headers_complete = OnHeadersComplete;
    x.on_body = OnBodyCb;
    x.on_message_complete = OnMessageCompleteCb;
    return x;
  }();
  return &s;
}

}  // namespace wharf::http
