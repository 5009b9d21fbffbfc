#include "registry/token_key.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "storage/blob_store.h"

namespace wharf::registry {
namespace {

constexpr size_t kMinKeyBytes = 32;

// Reads a small file whole; ENOENT is reported as kNotFound.
Result<std::string> ReadSmallFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound("no token key file " + path);
    return Status::FromErrno(errno, "open " + path);
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 && out.size() < (1 << 16)) out.append(buf, static_cast<size_t>(n));
  int e = errno;
  ::close(fd);
  if (n < 0) return Status::FromErrno(e, "read " + path);
  return out;
}

// Writes a new random key to a file of its own, then links it to `path`
// (which fails if it exists): `path` never holds a partial key, even after
// a crash.
Status CreateKeyFile(const std::string& path) {
  uint8_t raw[kMinKeyBytes];
  RAND_bytes(raw, sizeof raw);
  static const char kHex[] = "0123456789abcdef";
  std::string text;
  for (uint8_t b : raw) {
    text += kHex[b >> 4];
    text += kHex[b & 15];
  }
  text += '\n';
  const std::string tmp = path + ".new." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno(errno, "create " + tmp);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  int e = errno;
  ::close(fd);
  if (ok && ::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) {
    ok = false;
    e = errno;
  }
  ::unlink(tmp.c_str());
  if (!ok) return Status::FromErrno(e, "write " + path);
  const size_t slash = path.rfind('/');
  return storage::SyncDir(slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash));
}

}  // namespace

Result<std::string> LoadOrCreateTokenKey(const std::string& path) {
  auto key = ReadSmallFile(path);
  if (!key.ok() && key.status().code() == Code::kNotFound) {
    WHARF_RETURN_IF_ERROR(CreateKeyFile(path));
    key = ReadSmallFile(path);
  }
  if (!key.ok()) return key.status();
  while (!key->empty() && (key->back() == '\n' || key->back() == '\r' || key->back() == ' ' || key->back() == '\t'))
    key->pop_back();
  if (key->size() < kMinKeyBytes)
    return Invalid("token key file " + path + " holds " + std::to_string(key->size()) +
                   " bytes; it needs at least " + std::to_string(kMinKeyBytes) + " (e.g. openssl rand -hex 32)");
  return key;
}

}  // namespace wharf::registry
