// Help for a writer that appends to a file sequentially, e.g. an upload
// request with a Content-Length, or a proxied blob.
//
// Ahead of the writer: disk space is reserved (fallocate(2),
// FALLOC_FL_KEEP_SIZE) a 64 MiB window at a time when the end is known.
// Writing into reserved blocks lets the filesystem skip its per-page
// delayed-allocation bookkeeping: on ext4 that was a third of the kernel's
// buffered-write cost in a profiled push (bench/RESULTS.md). A window, not
// the whole target, because reserving a gigabyte takes milliseconds that a
// proxied client would wait for before its first byte. The file's size does
// not change, so an upload's size still means "bytes received" after a
// crash; blocks reserved past the end are released by ftruncate(2) (ext4,
// XFS) or when the file is removed.
//
// Behind the writer: write-back of each completed 32 MiB stretch is started
// at once (sync_file_range(2), SYNC_FILE_RANGE_WRITE), so the disk works
// while the network delivers the rest, and the fsync that makes the blob
// durable finds little left to write. It also keeps a huge upload from
// piling up dirty pages. Nothing here is a durability promise: only fsync is.
//
// Thread-safety: an object belongs to its one writer.
#pragma once

#include <cstdint>

#include "util/status.h"

namespace wharf::storage {

class SequentialWrite {
 public:
  // The writer is at `from` and will write up to `target` (exclusive);
  // target == from when the end is not known (no reservation then).
  void Aim(uint64_t from, uint64_t target);
  // Call before writing up to offset `to` of `fd`. Reserves the next window
  // (64 MiB, or up to `to`, within the target) when `to` passes what is
  // reserved. OK also when the filesystem cannot reserve (tmpfs before
  // Linux 6.6, NFS, ...): reservation is only an optimisation there. kNoSpace
  // when the filesystem says the data will not fit; kIO on other failures.
  Status Before(int fd, uint64_t to);
  // Call after the bytes up to offset `to` of `fd` are written: starts their
  // write-back once 32 MiB are pending. Failures are ignored (fsync reports
  // real I/O errors).
  void After(int fd, uint64_t to);

 private:
  uint64_t reserved_end_ = 0;
  uint64_t target_ = 0;
  uint64_t written_back_ = 0;  // write-back started up to here
};

}  // namespace wharf::storage
