#include "http/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace wharf::http {
namespace {

constexpr unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  unsigned char* sel = nullptr;
  if (SSL_select_next_proto(&sel, outlen, kAlpn, sizeof kAlpn, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;  // no ALPN match: carry on without ALPN
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

std::string TlsError() {
  std::string s;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!s.empty()) s += "; ";
    s += buf;
  }
  return s.empty() ? "unknown TLS error" : s;
}

bool TlsErrorIsHttpRequest(unsigned long err) { return ERR_GET_REASON(err) == SSL_R_HTTP_REQUEST; }

Result<std::shared_ptr<TlsContext>> TlsContext::Load(const std::string& cert_path,
                                                     const std::string& key_path) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return Internal("SSL_CTX_new: " + TlsError());
  std::shared_ptr<TlsContext> holder(new TlsContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  static const unsigned char kSidCtx[] = "wharf";
  SSL_CTX_set_session_id_context(ctx, kSidCtx, sizeof kSidCtx - 1);
  SSL_CTX_set_alpn_select_cb(ctx, SelectAlpn, nullptr);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_path.c_str()) != 1)
    return Invalid("http.tls.certificate: cannot use '" + cert_path + "': " + TlsError());
  if (SSL_CTX_use_PrivateKey_file(ctx, key_path.c_str(), SSL_FILETYPE_PEM) != 1)
    return Invalid("http.tls.key: cannot use '" + key_path + "': " + TlsError());
  if (SSL_CTX_check_private_key(ctx) != 1)
    return Invalid("http.tls.key: '" + key_path + "' does not match the certificate: " + TlsError());
  return holder;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

SSL* TlsContext::NewSession() const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl) SSL_set_accept_state(ssl);
  return ssl;
}

Status TlsProvider::Reload() {
  auto ctx = TlsContext::Load(cert_, key_);
  if (!ctx.ok()) return ctx.status();
  std::lock_guard<std::mutex> lock(mu_);
  current_ = std::move(*ctx);
  return Status();
}

std::shared_ptr<TlsContext> TlsProvider::Current() {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

}  // namespace wharf::http
