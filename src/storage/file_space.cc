#include "storage/file_space.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>

namespace wharf::storage {
namespace {

constexpr uint64_t kWindow = 64ull << 20;  // fallocate of 64 MiB: ~20 us on ext4

}  // namespace

Status SpaceWindow::Before(int fd, uint64_t to) {
  if (to <= reserved_end_ || reserved_end_ >= target_) return Status();
  const uint64_t end = std::min(target_, std::max(to, reserved_end_ + kWindow));
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

}  // namespace wharf::storage
