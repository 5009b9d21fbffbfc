#include "storage/blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "util/clock.h"

namespace wharf::storage {

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open " + dir);
  int rc = ::fsync(fd);
  int e = errno;
  ::close(fd);
  if (rc != 0) return Status::FromErrno(e, "fsync " + dir);
  return Status();
}

Status MakeDirs(const std::string& dir) {
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    cur = dir.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
      return Status::FromErrno(errno, "mkdir " + cur);
  }
  return Status();
}

BlobStore::BlobStore(std::string root)
    : root_(std::move(root)),
      blobs_(root_ + "/blobs"),
      uploads_(root_ + "/uploads"),
      tmp_(root_ + "/tmp"),
      quarantine_(root_ + "/quarantine") {}

namespace {

void Discard(const TempFile& t) {
  ::close(t.fd);
  ::unlink(t.path.c_str());
}

}  // namespace

BlobStore::~BlobStore() {
  for (const TempFile& t : spares_) Discard(t);
}

Status BlobStore::Init() {
  for (const std::string& d : {blobs_ + "/sha256", blobs_ + "/sha512", uploads_, tmp_})
    WHARF_RETURN_IF_ERROR(MakeDirs(d));
  // Leftovers in tmp/ are partial writes from a previous run: never valid.
  if (DIR* dir = ::opendir(tmp_.c_str())) {
    while (dirent* e = ::readdir(dir)) {
      if (e->d_name[0] == '.') continue;
      ::unlink((tmp_ + "/" + e->d_name).c_str());
    }
    ::closedir(dir);
  }
  return Status();
}

std::string BlobStore::PathFor(const Digest& d) const {
  return blobs_ + "/" + d.algo_name() + "/" + d.hex.substr(0, 2) + "/" + d.hex;
}

Result<int> BlobStore::Open(const Digest& d, uint64_t* size) const {
  int fd = ::open(PathFor(d).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open blob " + d.str());
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return Status::FromErrno(e, "stat blob " + d.str());
  }
  *size = static_cast<uint64_t>(st.st_size);
  return fd;
}

bool BlobStore::Exists(const Digest& d) const {
  return ::access(PathFor(d).c_str(), F_OK) == 0;
}

Status BlobStore::Commit(int fd, const std::string& src, const Digest& d) {
  std::string dst = PathFor(d);
  if (::access(dst.c_str(), F_OK) == 0) {
    ::unlink(src.c_str());  // same content is already durable
    return Status();
  }
  if (::fsync(fd) != 0) return Status::FromErrno(errno, "fsync " + src);
  std::string dir = dst.substr(0, dst.rfind('/'));
  WHARF_RETURN_IF_ERROR(MakeDirs(dir));
  if (::rename(src.c_str(), dst.c_str()) != 0) return Status::FromErrno(errno, "rename to " + dst);
  return SyncDir(dir);
}

Result<uint64_t> BlobStore::Adopt(const std::string& path, const Digest& d) {
  TempFile t{-1, tmp_ + "/" + RandomUuid()};
  if (::link(path.c_str(), t.path.c_str()) == 0) {
    t.fd = ::open(t.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (t.fd < 0) {
      Status st = Status::FromErrno(errno, "open " + t.path);
      ::unlink(t.path.c_str());
      return st;
    }
  } else if (errno == ENOENT) {
    return Status(Code::kNotFound, "no file " + path);
  } else {
    // Another filesystem (EXDEV), or links not allowed: copy in the kernel
    // (sendfile, since copy_file_range refuses most pairs of filesystems).
    int src = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (src < 0) return Status::FromErrno(errno, "open " + path);
    auto tmp = CreateTempFile();
    if (!tmp.ok()) {
      ::close(src);
      return tmp.status();
    }
    t = *tmp;
    ssize_t n = 0;
    while ((n = ::sendfile(t.fd, src, nullptr, 1 << 30)) > 0) {
    }
    int e = errno;
    ::close(src);
    if (n < 0) {
      ::close(t.fd);
      ::unlink(t.path.c_str());
      return Status::FromErrno(e, "copy " + path);
    }
  }
  struct stat st{};
  Result<Digest> got = ::fstat(t.fd, &st) == 0 ? DigestOfFile(t.fd, d.algo)
                                               : Result<Digest>(Status::FromErrno(errno, "fstat " + t.path));
  Status done = !got.ok()        ? got.status()
                : !(*got == d)   ? Status(Code::kInvalid, "content has digest " + got->str())
                                 : Commit(t.fd, t.path, d);
  ::close(t.fd);
  if (!done.ok()) {
    ::unlink(t.path.c_str());
    return done;
  }
  return static_cast<uint64_t>(st.st_size);
}

Result<TempFile> BlobStore::CreateTempFile() const {
  TempFile t{-1, tmp_ + "/" + RandomUuid()};
  t.fd = ::open(t.path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (t.fd < 0) return Status::FromErrno(errno, "create " + t.path);
  return t;
}

Result<TempFile> BlobStore::NewTempFile() {
  {
    std::lock_guard<std::mutex> lock(spares_mu_);
    if (!spares_.empty()) {
      TempFile t = std::move(spares_.back());
      spares_.pop_back();
      return t;
    }
  }
  return CreateTempFile();
}

void BlobStore::KeepSpares(size_t n) {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(spares_mu_);
      if (spares_.size() >= n) return;
    }
    auto t = CreateTempFile();
    if (!t.ok()) return;
    std::lock_guard<std::mutex> lock(spares_mu_);
    if (spares_.size() >= n) {  // another caller topped up meanwhile
      Discard(*t);
      return;
    }
    spares_.push_back(std::move(*t));
  }
}

Status BlobStore::Write(const Digest& d, std::string_view content) {
  if (Exists(d)) return Status();
  auto made = NewTempFile();
  if (!made.ok()) return made.status();
  const int fd = made->fd;
  const std::string& tmp = made->path;
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status st = Status::FromErrno(errno, "write " + tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return st;
    }
    off += static_cast<size_t>(n);
  }
  Status st = Commit(fd, tmp, d);
  ::close(fd);
  if (!st.ok()) ::unlink(tmp.c_str());
  return st;
}

Status BlobStore::Remove(const Digest& d) {
  std::string p = PathFor(d);
  if (::unlink(p.c_str()) != 0 && errno != ENOENT) return Status::FromErrno(errno, "unlink " + p);
  return Status();
}

Result<std::string> BlobStore::ReadAll(const Digest& d) const {
  uint64_t size = 0;
  auto fd = Open(d, &size);
  if (!fd.ok()) return fd.status();
  std::string out(size, '\0');
  ssize_t n = ::pread(*fd, out.data(), size, 0);
  ::close(*fd);
  if (n < 0 || static_cast<uint64_t>(n) != size) return Status(Code::kIO, "short read " + d.str());
  return out;
}

Result<std::string> BlobStore::ReadAll(std::string_view digest) const {
  auto d = Digest::Parse(digest);
  if (!d.ok()) return d.status();
  return ReadAll(*d);
}

Result<Digest> BlobStore::Rehash(const Digest& d, uint64_t* size) const {
  auto fd = Open(d, size);
  if (!fd.ok()) return fd.status();
  auto got = DigestOfFile(*fd, d.algo);
  ::close(*fd);
  return got;
}

uint64_t BlobStore::Shortfall(uint64_t bytes) const {
  struct statvfs fs;
  if (::statvfs(tmp_.c_str(), &fs) != 0) return 0;
  const uint64_t total = static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize;
  const uint64_t reserve = std::max<uint64_t>(total / 100, 16 << 20);
  const uint64_t avail = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  return avail >= bytes + reserve ? 0 : bytes + reserve - avail;
}

Result<std::string> BlobStore::Quarantine(const Digest& d) {
  WHARF_RETURN_IF_ERROR(MakeDirs(quarantine_));
  const std::string from = PathFor(d);
  const std::string to = quarantine_ + "/" + d.algo_name() + "-" + d.hex + "-" +
                         std::to_string(WallMs());
  if (::rename(from.c_str(), to.c_str()) != 0) {
    int e = errno;
    if (e == ENOENT) return Status(Code::kNotFound, "no blob file " + from);
    return Status::FromErrno(e, "rename " + from);
  }
  WHARF_RETURN_IF_ERROR(SyncDir(quarantine_));
  WHARF_RETURN_IF_ERROR(SyncDir(from.substr(0, from.rfind('/'))));
  return to;
}

Status BlobStore::ForEach(const std::function<void(const Digest&, uint64_t, int64_t)>& fn) const {
  for (const char* algo : {"sha256", "sha512"}) {
    std::string base = blobs_ + "/" + algo;
    DIR* top = ::opendir(base.c_str());
    if (!top) continue;
    while (dirent* sub = ::readdir(top)) {
      if (sub->d_name[0] == '.') continue;
      std::string subdir = base + "/" + sub->d_name;
      DIR* d = ::opendir(subdir.c_str());
      if (!d) continue;
      while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        auto dg = Digest::Parse(std::string(algo) + ":" + e->d_name);
        struct stat st;
        if (!dg.ok() || ::stat((subdir + "/" + e->d_name).c_str(), &st) != 0) continue;
        fn(*dg, static_cast<uint64_t>(st.st_size), static_cast<int64_t>(st.st_mtime));
      }
      ::closedir(d);
    }
    ::closedir(top);
  }
  return Status();
}

}  // namespace wharf::storage
