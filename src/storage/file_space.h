// Disk space reservation ahead of a sequential writer that knows where it is
// heading (an upload request with a Content-Length, a proxied blob).
//
// Writing into reserved blocks (fallocate(2), FALLOC_FL_KEEP_SIZE) lets the
// filesystem skip its per-page delayed-allocation bookkeeping: on ext4 that
// bookkeeping was a third of the kernel's buffered-write cost in a profiled
// push (bench/RESULTS.md). Space is reserved a window at a time rather than
// all at once, because reserving a whole gigabyte takes milliseconds, which
// a proxied client would wait for before its first byte.
//
// The file's size does not change, so a file whose size means "bytes
// received" (a resumable upload) keeps that meaning after a crash. Blocks
// reserved past the end are released by ftruncate(2) (ext4, XFS) or when
// the file is removed.
//
// Thread-safety: a SpaceWindow belongs to its one writer.
#pragma once

#include <cstdint>

#include "util/status.h"

namespace wharf::storage {

class SpaceWindow {
 public:
  // The writer is at `from` and will write up to `target` (exclusive).
  void Aim(uint64_t from, uint64_t target) {
    reserved_end_ = from;
    target_ = target;
  }
  // Call before writing up to offset `to` of `fd`. Reserves the next window
  // (64 MiB, or up to `to`, within the target) when `to` passes what is
  // reserved. OK also when the filesystem cannot reserve (tmpfs before
  // Linux 6.6, NFS, ...): reservation is only an optimisation there. kNoSpace
  // when the filesystem says the data will not fit; kIO on other failures.
  Status Before(int fd, uint64_t to);

 private:
  uint64_t reserved_end_ = 0;
  uint64_t target_ = 0;
};

}  // namespace wharf::storage
