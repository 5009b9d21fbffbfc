// Conn: one client connection of wharf-bench, on a libuv loop.
//
// Plain TCP or TLS (the same library as the server, driven on the
// non-blocking socket). One request at a time; keep-alive unless asked to
// close. Response bodies are parsed with llhttp and, unless the caller keeps
// or verifies them, discarded in the kernel with recv(MSG_TRUNC) on plain
// TCP, so the load tool spends little CPU per byte.
#pragma once

#include <llhttp.h>
#include <sys/socket.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "util/digest.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace wharf::bench {

struct Target {
  std::string host;
  uint16_t port = 0;
  bool tls = false;
  SSL_CTX* ctx = nullptr;  // client context when tls
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
};

struct Reply {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // lowercased names
  std::string body;          // only when kept
  uint64_t body_bytes = 0;
  std::string digest;        // sha256 of the body, when verified
  std::string Header(const std::string& lower) const;
};

struct Call {
  std::string method = "GET";
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;     // must outlive the call
  bool keep_body = false;
  bool verify = false;
  bool close = false;        // "Connection: close" and reconnect next time
};

class Conn {
 public:
  // `err` empty on success; otherwise a short error kind ("connect", "tls", "reset", ...).
  using Done = std::function<void(const std::string& err, Reply& reply)>;
  Conn(uv_loop_t* loop, const Target* t);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  void Send(Call call, Done done);
  bool busy() const { return busy_; }

 private:
  static void OnPoll(uv_poll_t* h, int status, int events);
  static int OnHeaderField(llhttp_t* p, const char* at, size_t n);
  static int OnHeaderValue(llhttp_t* p, const char* at, size_t n);
  static int OnHeadersComplete(llhttp_t* p);
  static int OnBody(llhttp_t* p, const char* at, size_t n);
  static int OnMessageComplete(llhttp_t* p);
  void StartConnect();
  void Drive(int events);
  bool Handshake();
  bool Write();
  bool Read();
  // recv(2): >0 bytes; 0 when it would block; -1 after Finish() (EOF, error).
  ssize_t Recv(void* buf, size_t n, int flags);
  void Finish(const std::string& err);
  void CloseSocket();
  void SetEvents(int ev);

  uv_loop_t* loop_;
  const Target* t_;
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  uv_poll_t* poll_ = nullptr;  // heap: closed asynchronously
  int events_ = 0;
  bool connected_ = false;
  bool handshaken_ = false;
  bool busy_ = false;
  Call call_;
  Done done_;
  Reply reply_;
  std::string out_;
  size_t out_off_ = 0;
  size_t body_off_ = 0;
  llhttp_t parser_;
  llhttp_settings_t settings_;
  bool in_value_ = false;
  bool complete_ = false;
  uint64_t discard_ = 0;       // body bytes still to drop with MSG_TRUNC
  bool discarding_ = false;
  std::unique_ptr<Hasher> hasher_;
  std::unique_ptr<char[]> buf_;
};

}  // namespace wharf::bench
