#include "http/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "util/log.h"

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

// An expired certificate still loads (the operator may be replacing it),
// but every client refuses it: say so, and say it a month ahead, where the
// operator looks (at start, and at each SIGHUP reload).
void WarnOfExpiry(SSL_CTX* ctx, const std::string& path) {
  constexpr int kWarnDays = 30;
  const X509* leaf = SSL_CTX_get0_certificate(ctx);
  int days = 0, seconds = 0;
  if (!leaf || !ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(leaf))) return;
  if (days < 0 || seconds < 0)
    WLOG_WARN("http.tls.certificate: '%s' has expired; clients will refuse it", path.c_str());
  else if (days <= kWarnDays)
    WLOG_WARN("http.tls.certificate: '%s' expires in %d days", path.c_str(), days);
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

Result<std::shared_ptr<TlsContext>> TlsContext::Load(const TlsFiles& files) {
  const std::string& cert_path = files.certificate;
  const std::string& key_path = files.key;
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return Internal("SSL_CTX_new: " + TlsError());
  std::shared_ptr<TlsContext> holder(new TlsContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, files.tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
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
  WarnOfExpiry(ctx, cert_path);
  if (!files.client_cas.empty()) {
    // The CAs verify client certificates, and their names go out in the
    // CertificateRequest so that clients pick the right certificate.
    STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
    if (!names) return Internal("sk_X509_NAME_new_null: " + TlsError());
    for (const std::string& ca : files.client_cas) {
      if (SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) != 1 ||
          SSL_add_file_cert_subjects_to_stack(names, ca.c_str()) != 1) {
        sk_X509_NAME_pop_free(names, X509_NAME_free);
        return Invalid("http.tls.client_cas: cannot use '" + ca + "': " + TlsError());
      }
    }
    // Takes the list (BoringSSL converts it and frees it): complete it first.
    SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return holder;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

SSL* TlsContext::NewSession() const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl) SSL_set_accept_state(ssl);
  return ssl;
}

Status TlsProvider::Reload() {
  auto ctx = TlsContext::Load(files_);
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
