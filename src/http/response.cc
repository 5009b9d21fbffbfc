#include "http/response.h"

#include "http/growing_file.h"

#include <unistd.h>

#include <charconv>
#include <cstdio>

namespace wharf::http {

void Response::Reset() {
  status = 0;
  headers.clear();
  body.clear();
  shared_body.reset();
  stream.reset();
  stream_offset = stream_length = 0;
  if (file.fd >= 0) ::close(file.fd);
  file = FileRange{};
  content_length.reset();
  close = false;
}

void Response::AddHeader(std::string_view name, std::string_view value) {
  headers.append(name);
  headers.append(": ");
  headers.append(value);
  headers.append("\r\n");
}

void Response::AddHeader(std::string_view name, uint64_t value) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, value);
  AddHeader(name, std::string_view(buf, r.ptr - buf));
}

void Response::Set(int st, std::string_view content_type, std::string b) {
  status = st;
  if (!content_type.empty()) AddHeader("Content-Type", content_type);
  body = std::move(b);
}

void Response::SetFile(int st, int fd, uint64_t offset, uint64_t length) {
  status = st;
  if (file.fd >= 0) ::close(file.fd);
  file = FileRange{fd, offset, length};
}

void Response::SetStream(int st, std::shared_ptr<GrowingFile> s, uint64_t offset, uint64_t length) {
  status = st;
  stream = std::move(s);
  stream_offset = offset;
  stream_length = length;
}

void AppendJsonEscaped(std::string* out, std::string_view s) {
  for (unsigned char c : s) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          snprintf(buf, sizeof buf, "\\u%04x", c);
          *out += buf;
        } else {
          *out += static_cast<char>(c);
        }
    }
  }
}

void Response::Error(int st, std::string_view code, std::string_view message,
                     std::string_view detail_json) {
  std::string b = "{\"errors\":[{\"code\":\"";
  AppendJsonEscaped(&b, code);
  b += "\",\"message\":\"";
  AppendJsonEscaped(&b, message);
  b += '"';
  if (!detail_json.empty()) {
    b += ",\"detail\":";
    b += detail_json;
  }
  b += "}]}\n";
  Set(st, "application/json; charset=utf-8", std::move(b));
}

std::string CannedError(int status, std::string_view code, std::string_view message,
                        std::string_view extra_headers) {
  Response r;
  r.Error(status, code, message);
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + StatusText(status) + "\r\n";
  out += r.headers;
  out += extra_headers;
  out += "Connection: close\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\n\r\n";
  out += r.body;
  return out;
}

std::string_view Response::Header(std::string_view name) const {
  std::string_view all = headers;
  while (!all.empty()) {
    size_t end = all.find("\r\n");
    std::string_view line = all.substr(0, end);
    if (line.size() > name.size() && line.starts_with(name) && line[name.size()] == ':') {
      std::string_view value = line.substr(name.size() + 1);
      if (value.starts_with(' ')) value.remove_prefix(1);
      return value;
    }
    if (end == std::string_view::npos) break;
    all.remove_prefix(end + 2);
  }
  return {};
}

uint64_t Response::BodySize() const {
  if (content_length) return *content_length;
  if (file.fd >= 0) return file.length;
  if (stream) return stream_length;
  return Bytes().size();
}

const char* StatusText(int s) {
  switch (s) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
  }
  return "Unknown";
}

}  // namespace wharf::http
