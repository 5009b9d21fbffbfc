// Server-side TLS: certificate loading and the reloadable context.
//
// Only API that BoringSSL and OpenSSL 3 share is used, so the same code
// builds with -Dtls=openssl. TLS 1.2 and 1.3, ALPN http/1.1, session
// resumption through tickets (BoringSSL rotates ticket keys by itself) and
// a server-side session cache for TLS 1.2 session IDs.
//
// Thread-safety: TlsProvider is thread-safe. Current() returns a context
// that stays valid as long as the caller holds it; SSL objects made from it
// keep their own reference, so a reload never disturbs open connections.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "util/status.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace wharf::http {

// The server's TLS files.
struct TlsFiles {
  std::string certificate;  // PEM chain
  std::string key;          // PEM private key (RSA or ECDSA)
  // PEM CA bundles; when not empty, every client must present a certificate
  // that one of them issued (mutual TLS), or the handshake fails.
  std::vector<std::string> client_cas;
  bool tls13_only = false;  // else TLS 1.2 and 1.3
};

class TlsContext {
 public:
  // Loads the files. Errors name the key, the file and what is wrong.
  static Result<std::shared_ptr<TlsContext>> Load(const TlsFiles& files);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // A new server-side SSL for a connection; the caller owns it (SSL_free).
  SSL* NewSession() const;

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

class TlsProvider {
 public:
  explicit TlsProvider(TlsFiles files) : files_(std::move(files)) {}
  // Loads the files again; on error the current context stays in use.
  Status Reload();
  std::shared_ptr<TlsContext> Current();

 private:
  const TlsFiles files_;
  std::mutex mu_;
  std::shared_ptr<TlsContext> current_;
};

// The text of the last TLS error on this thread (and clears the queue).
std::string TlsError();
// True if the last failure was a plain HTTP request sent to the TLS port.
bool TlsErrorIsHttpRequest(unsigned long err);

}  // namespace wharf::http
