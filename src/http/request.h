// An HTTP/1.1 request as the parser hands it to handlers.
//
// A Request object is owned by its connection and reused for every request
// on it: Clear() keeps the capacity of every string and of the header table,
// so a keep-alive connection parses requests without allocating. Views
// (path, query, route params) point into `target` and stay valid until the
// next Clear().
//
// Thread-safety: owned and used by one worker loop.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::http {

struct Header {
  std::string name;
  std::string value;
};

struct Request {
  std::string_view method;  // static string from llhttp ("GET", ...)
  std::string target;       // raw request target, e.g. "/v2/a/b/manifests/x?ns=y"
  std::string_view path;    // target up to '?'
  std::string_view query;   // after '?', without it
  uint8_t http_minor = 1;
  std::vector<Header> headers;  // [0, header_count) are in use
  size_t header_count = 0;
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool chunked = false;
  bool keep_alive = true;
  bool expect_continue = false;
  std::string body;          // collected body, for routes that buffer it
  std::string peer;          // client address "ip:port"; set by the connection
  bool secure = false;       // arrived over TLS; set by the connection
  // The request id: the client's X-Request-Id when it is a short token of
  // [A-Za-z0-9._-], else one the connection makes up. Sent back in
  // X-Request-Id and written to the logs. Fixed storage: no allocation.
  std::array<char, 40> id_buf{};
  uint8_t id_len = 0;
  std::string_view id() const { return {id_buf.data(), id_len}; }

  // Route result, set by the router.
  int route = 0;
  std::array<std::string_view, 3> params{};

  void Clear();

  // The first header with this name (case-insensitive), or nullptr.
  const std::string* Find(std::string_view name) const;
  // Every value of a repeated header joined with ", ", as RFC 9110 §5.3
  // allows; docker sends Accept as several header lines.
  std::string Joined(std::string_view name) const;
  // The decoded value of query parameter `key`; `found` tells if it exists.
  std::string QueryParam(std::string_view key, bool* found = nullptr) const;
  // Every decoded value of a repeated query parameter, in order.
  std::vector<std::string> QueryParams(std::string_view key) const;
  // The client's address without the port.
  std::string ClientIp() const;
  bool IsHead() const { return method == "HEAD"; }
  // GET or HEAD: a request that changes nothing.
  bool IsRead() const { return method == "GET" || method == "HEAD"; }
};

// Case-insensitive ASCII comparison.
bool IEquals(std::string_view a, std::string_view b);

}  // namespace wharf::http
