#include "storage/sequential_write.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>

namespace wharf::storage {
namespace {

constexpr uint64_t kReserveWindow = 64ull << 20;  // fallocate of 64 MiB: ~20 us on ext4
constexpr uint64_t kWriteBackStep = 32ull << 20;

}  // namespace

void SequentialWrite::Aim(uint64_t from, uint64_t target) {
  reserved_end_ = from;
  target_ = target;
  written_back_ = std::min(written_back_, from);  // after a rewind
}

Status SequentialWrite::Before(int fd, uint64_t to) {
  if (to <= reserved_end_ || reserved_end_ >= target_) return Status();
  const uint64_t end = std::min(target_, std::max(to, reserved_end_ + kReserveWindow));
  int r;
  do {
    r = ::fallocate(fd, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(reserved_end_),
                    static_cast<off_t>(end - reserved_end_));
  } while (r != 0 && errno == EINTR);
  if (r != 0 && errno != EOPNOTSUPP && errno != ENOSYS)
    return Status::FromErrno(errno, "reserve disk space");
  reserved_end_ = r == 0 ? end : target_;  // unsupported: stop trying
  return Status();
}

void SequentialWrite::After(int fd, uint64_t to) {
  if (to < written_back_ + kWriteBackStep) return;
  (void)::sync_file_range(fd, static_cast<off_t>(written_back_),
                          static_cast<off_t>(to - written_back_), SYNC_FILE_RANGE_WRITE);
  written_back_ = to;
}

}  // namespace wharf::storage
