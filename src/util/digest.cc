#include "util/digest.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>

namespace wharf {
namespace {

const EVP_MD* Md(DigestAlgo a) { return a == DigestAlgo::kSha256 ? EVP_sha256() : EVP_sha512(); }

std::string Hex(const unsigned char* p, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string s(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    s[2 * i] = kHex[p[i] >> 4];
    s[2 * i + 1] = kHex[p[i] & 15];
  }
  return s;
}

}  // namespace

Result<Digest> Digest::Parse(std::string_view s) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return Invalid("digest must look like <algorithm>:<hex>");
  std::string_view algo = s.substr(0, colon), hex = s.substr(colon + 1);
  Digest d;
  size_t want;
  if (algo == "sha256") {
    d.algo = DigestAlgo::kSha256;
    want = 64;
  } else if (algo == "sha512") {
    d.algo = DigestAlgo::kSha512;
    want = 128;
  } else {
    for (char c : algo)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '.' ||
            c == '_' || c == '-'))
        return Invalid("digest algorithm has invalid characters");
    return Status(Code::kUnsupported, "digest algorithm '" + std::string(algo) +
                                          "' is not supported (use sha256 or sha512)");
  }
  if (hex.size() != want)
    return Invalid(std::string(algo) + " digest must have " + std::to_string(want) + " hex characters");
  for (char c : hex)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return Invalid("digest must be lowercase hex");
  d.hex = std::string(hex);
  return d;
}

std::string Digest::str() const { return std::string(algo_name()) + ":" + hex; }

Hasher::Hasher(DigestAlgo algo) : algo_(algo), ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(ctx_, Md(algo_), nullptr);
}

Hasher::~Hasher() { EVP_MD_CTX_free(ctx_); }

void Hasher::Update(std::string_view data) { EVP_DigestUpdate(ctx_, data.data(), data.size()); }

Digest Hasher::Final() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx_, out, &n);
  EVP_DigestInit_ex(ctx_, Md(algo_), nullptr);
  Digest d;
  d.algo = algo_;
  d.hex = Hex(out, n);
  return d;
}

Digest DigestOf(std::string_view data, DigestAlgo algo) {
  Hasher h(algo);
  h.Update(data);
  return h.Final();
}

Result<Digest> DigestOfFile(int fd, DigestAlgo algo) {
  Hasher h(algo);
  constexpr size_t kBuf = 1 << 20;
  std::unique_ptr<char[]> buf(new char[kBuf]);
  off_t off = 0;
  while (true) {
    ssize_t n = pread(fd, buf.get(), kBuf, off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "read for digest");
    }
    if (n == 0) break;
    h.Update(std::string_view(buf.get(), static_cast<size_t>(n)));
    off += n;
  }
  return h.Final();
}

std::string RandomUuid() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  std::string h = Hex(b, sizeof b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

}  // namespace wharf
