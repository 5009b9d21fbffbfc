// UploadManager: in-progress blob uploads (the OCI "blob upload" sessions).
//
// An upload is a file <root>/uploads/<uuid> plus a MetaStore record naming
// its repository. Data is appended in order and hashed (SHA-256) as it
// arrives, on a spare core when there is one (TrailingHash), so completing an
// upload costs no second pass over the data, except after a restart (the
// hash state lives in memory) or for a sha512 digest.
//
// State machine of one upload:
//   Start() -> open --Acquire()--> busy --Release()--> open ...
//                                  busy --Commit()--> gone (blob stored, or
//                                                     digest mismatch: discarded)
//                                  busy --Cancel()--> gone
//   open, untouched for the expiry time --Expire()--> gone
// Only one request at a time may use an upload (Acquire() says kUnavailable
// otherwise), so chunks can never interleave.
//
// Thread-safety: all methods are thread-safe. An acquired Upload is used
// only by the request that acquired it.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "storage/blob_store.h"
#include "storage/meta_store.h"
#include "storage/sequential_write.h"
#include "storage/trailing_hash.h"
#include "util/digest.h"
#include "util/status.h"

namespace wharf::storage {

struct Upload {
  explicit Upload(HashPool* pool) : sha256(pool) {}
  std::string uuid;
  std::string repo;
  std::string path;
  int fd = -1;
  uint64_t size = 0;
  SequentialWrite writing;  // reservation ahead of, write-back behind the writes
  TrailingHash sha256;  // stopped when resumed after a restart or cut back
  int64_t started_ms = 0;
  int64_t touched_ms = 0;
  bool busy = false;  // guarded by the manager's mutex
  ~Upload();
};

class UploadManager {
 public:
  // `max_blob_bytes` caps one upload (0 = unlimited). `hashing` (null: none)
  // hashes uploads beside the requests that receive them; it must outlive
  // the manager and every upload.
  UploadManager(BlobStore* blobs, MetaStore* meta, uint64_t max_blob_bytes, HashPool* hashing);
  UploadManager(const UploadManager&) = delete;
  UploadManager& operator=(const UploadManager&) = delete;

  // Reconciles files and records after a restart: uploads with both are
  // resumable; a file without a record or a record without a file is removed.
  Status Init();

  // Creates an upload in `repo`, already acquired by the caller.
  Result<std::shared_ptr<Upload>> Start(const std::string& repo);
  // Takes exclusive use of upload `uuid` of `repo`. kNotFound if it does not
  // exist (or belongs to another repository); kUnavailable if in use.
  Result<std::shared_ptr<Upload>> Acquire(const std::string& repo, const std::string& uuid);
  void Release(const std::shared_ptr<Upload>& u);
  // How many uploads are open now (idle or busy).
  size_t InProgress();
  // The current size of an upload, without acquiring it.
  Result<uint64_t> Size(const std::string& repo, const std::string& uuid);

  // Announces that the current request will append `bytes` bytes (0 when it
  // does not say; REQUIRES: acquired), before any of them is read: kTooLarge
  // if that passes the configured cap; kNoSpace if the disk cannot hold the
  // first window of them. Append() then reserves disk space ahead of the
  // writes (see SequentialWrite).
  // Reservations a short request leaves unused are released at Commit().
  Status Expect(Upload& u, uint64_t bytes);
  // Appends `data` (REQUIRES: acquired). On error nothing of `data` remains
  // (the file is cut back), so the client may retry the chunk. kTooLarge past
  // the configured cap; kNoSpace when the disk is full.
  Status Append(Upload& u, std::string_view data);
  // Cuts the upload back to `size` bytes (REQUIRES: acquired, size <= u.size),
  // e.g. to undo a whole failed request; the hash is then recomputed at commit.
  void Rewind(Upload& u, uint64_t size);

  // Verifies the content against `want` and stores it as that blob in the
  // upload's repository (REQUIRES: acquired). Blocking (hashing, fsync): run
  // it off the event loop. kInvalid on a digest mismatch. Whatever the
  // outcome except an I/O error, the upload is gone afterwards.
  Status Commit(const std::shared_ptr<Upload>& u, const Digest& want);
  // Discards the upload (REQUIRES: acquired).
  Status Cancel(const std::shared_ptr<Upload>& u);
  // Removes uploads not touched for `max_idle_ms`. Returns how many.
  size_t Expire(int64_t max_idle_ms);

 private:
  void Remove(const std::shared_ptr<Upload>& u);
  // kTooLarge if an upload of `size` bytes exceeds the configured cap.
  Status CheckCap(uint64_t size) const;

  BlobStore* blobs_;
  MetaStore* meta_;
  uint64_t max_blob_bytes_;
  HashPool* hashing_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Upload>> table_;
};

}  // namespace wharf::storage
