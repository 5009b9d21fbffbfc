// Content digests: parsing "algorithm:hex" strings and incremental hashing.
//
// Only sha256 and sha512 are accepted, with lowercase hex of the exact
// length (64 and 128), as the OCI image spec registers them. A Digest that
// Parse() accepted is safe to use as a file name component.
//
// Thread-safety: Digest is a value; a Hasher belongs to one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "util/status.h"

// The two TLS libraries name the context struct differently.
#ifdef WHARF_TLS_BORINGSSL
typedef struct env_md_ctx_st EVP_MD_CTX;
#else
typedef struct evp_md_ctx_st EVP_MD_CTX;
#endif

namespace wharf {

enum class DigestAlgo { kSha256, kSha512 };

struct Digest {
  DigestAlgo algo = DigestAlgo::kSha256;
  std::string hex;

  // Parses "sha256:<64 hex>" or "sha512:<128 hex>". Errors are kInvalid (a
  // malformed string) or kUnsupported (another algorithm).
  static Result<Digest> Parse(std::string_view s);
  std::string str() const;  // "sha256:…"
  const char* algo_name() const { return algo == DigestAlgo::kSha256 ? "sha256" : "sha512"; }
  bool operator==(const Digest& o) const { return algo == o.algo && hex == o.hex; }
};

class Hasher {
 public:
  explicit Hasher(DigestAlgo algo = DigestAlgo::kSha256);
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void Update(std::string_view data);
  // Returns the digest of everything passed to Update(). The hasher is then
  // reset to its initial state.
  Digest Final();
  DigestAlgo algo() const { return algo_; }

 private:
  DigestAlgo algo_;
  EVP_MD_CTX* ctx_;
};

// Digest of a whole buffer.
Digest DigestOf(std::string_view data, DigestAlgo algo = DigestAlgo::kSha256);

// Hashes the file at `fd` from offset 0 to its end (pread; the file offset is
// not moved).
Result<Digest> DigestOfFile(int fd, DigestAlgo algo);

// 16 random bytes from the CSPRNG, as a lowercase RFC 4122 version-4 UUID.
std::string RandomUuid();

}  // namespace wharf
