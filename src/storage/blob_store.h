// BlobStore: immutable, content-addressed files under <root>/blobs.
//
// Layout: <root>/blobs/<algo>/<first two hex>/<hex>. A file appears under
// that name only by rename(2) after its content was fsync'd, and the
// directory is fsync'd after the rename, so a blob path either does not
// exist or holds the complete, verified content, whatever crash happens.
// The store never checks digests itself: callers commit only verified data.
//
// Thread-safety: all methods are safe to call from any thread; they touch
// only the filesystem (and the list of spare temp files, under a mutex).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "util/digest.h"
#include "util/status.h"

namespace wharf::storage {

// A new, empty file in tmp/ for content on its way into the store. The
// holder owns `fd` and either Commits the file or unlinks `path`.
struct TempFile {
  int fd = -1;
  std::string path;
};

class BlobStore {
 public:
  explicit BlobStore(std::string root);
  // Removes the spare temp files (see KeepSpares()).
  ~BlobStore();
  BlobStore(const BlobStore&) = delete;
  BlobStore& operator=(const BlobStore&) = delete;

  // Creates blobs/, uploads/ and tmp/ and empties tmp/.
  Status Init();

  std::string PathFor(const Digest& d) const;
  const std::string& uploads_dir() const { return uploads_; }
  const std::string& tmp_dir() const { return tmp_; }

  // Opens a blob for reading. On success the caller owns the fd; *size gets
  // the file size. kNotFound if the blob file does not exist.
  Result<int> Open(const Digest& d, uint64_t* size) const;
  bool Exists(const Digest& d) const;

  // Makes the complete file `src` (open as `fd`, already verified to hash to
  // `d`) the blob `d`: fsync, rename, fsync of the directory. If the blob
  // exists already, `src` is removed instead. `fd` stays owned by the caller.
  Status Commit(int fd, const std::string& src, const Digest& d);
  // A temp file, opened read-write: a spare made by KeepSpares() if one
  // waits, else made now. Fails only when no file can be created.
  Result<TempFile> NewTempFile();
  // Makes spare temp files until `n` wait, never more (best effort: a
  // failure leaves fewer). Creating a file costs 10-190 us on ext4 (inode
  // allocation, most after many recent deletions); on a proxy miss that
  // would sit between the client's request and its first byte, so the proxy
  // keeps spares made where no one waits.
  void KeepSpares(size_t n);
  // Writes `content` (already verified) as blob `d` through a temp file.
  Status Write(const Digest& d, std::string_view content);
  // Makes a copy of the file at `path` (someone else's; never changed) the
  // blob `d`, if its content hashes to `d`: hard-linked when `path` is on the
  // store's filesystem (no second copy of the bytes), else copied. Returns
  // the size. kInvalid, naming the digest the content has, if it is not `d`
  // (nothing is stored then); kNotFound without a file. Blocking: reads the
  // whole file.
  Result<uint64_t> Adopt(const std::string& path, const Digest& d);
  Status Remove(const Digest& d);
  // The whole content of a (small) blob, e.g. a manifest. kNotFound if the
  // file does not exist; kIO if it is shorter than its size; the overload
  // taking a digest string also fails on a malformed one.
  Result<std::string> ReadAll(const Digest& d) const;
  Result<std::string> ReadAll(std::string_view digest) const;
  // Hashes the blob file as it is on disk; *size gets the file's size. Returns
  // the digest of the content (compare it with `d`). kNotFound without a file.
  Result<Digest> Rehash(const Digest& d, uint64_t* size) const;
  // True if the filesystem has `bytes` free for unprivileged writers, plus a
  // 1% (at least 16 MiB) reserve for metadata. True when it cannot tell.
  bool HasRoomFor(uint64_t bytes) const { return Shortfall(bytes) == 0; }
  // How many bytes would have to be freed for HasRoomFor(bytes) to hold.
  uint64_t Shortfall(uint64_t bytes) const;
  // Moves the blob file out of the store into <root>/quarantine/ (kept for
  // inspection, never served) and returns its new path. kNotFound if absent.
  Result<std::string> Quarantine(const Digest& d);

  // Calls fn(digest, size, mtime_seconds) for every blob file.
  Status ForEach(const std::function<void(const Digest&, uint64_t, int64_t)>& fn) const;

 private:
  Result<TempFile> CreateTempFile() const;

  std::string root_, blobs_, uploads_, tmp_, quarantine_;
  std::mutex spares_mu_;
  std::vector<TempFile> spares_;
};

// fsync(2) a directory by path.
Status SyncDir(const std::string& dir);
// mkdir -p.
Status MakeDirs(const std::string& dir);

}  // namespace wharf::storage
