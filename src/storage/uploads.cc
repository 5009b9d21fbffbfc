#include "storage/uploads.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "util/log.h"

namespace wharf::storage {

Upload::~Upload() {
  sha256.Stop();  // a pool thread may still be reading fd
  if (fd >= 0) ::close(fd);
}

UploadManager::UploadManager(BlobStore* blobs, MetaStore* meta, uint64_t max_blob_bytes,
                             HashPool* hashing)
    : blobs_(blobs), meta_(meta), max_blob_bytes_(max_blob_bytes), hashing_(hashing) {}

Status UploadManager::Init() {
  std::unordered_map<std::string, UploadRecord> records;
  WHARF_RETURN_IF_ERROR(meta_->ForEachUpload(
      [&](const std::string& uuid, const UploadRecord& r) { records.emplace(uuid, r); }));
  std::lock_guard<std::mutex> lock(mu_);
  if (DIR* dir = ::opendir(blobs_->uploads_dir().c_str())) {
    while (dirent* e = ::readdir(dir)) {
      if (e->d_name[0] == '.') continue;
      std::string uuid = e->d_name;
      std::string path = blobs_->uploads_dir() + "/" + uuid;
      auto rec = records.find(uuid);
      if (rec == records.end()) {
        ::unlink(path.c_str());
        continue;
      }
      int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
      struct stat st;
      if (fd < 0 || ::fstat(fd, &st) != 0) {
        if (fd >= 0) ::close(fd);
        continue;
      }
      auto u = std::make_shared<Upload>(hashing_);
      u->uuid = uuid;
      u->repo = rec->second.repo;
      u->path = path;
      u->fd = fd;
      u->size = static_cast<uint64_t>(st.st_size);
      u->sha256.Stop();  // the hash state did not survive the restart
      u->started_ms = rec->second.started_ms;
      u->touched_ms = NowMs();
      table_.emplace(uuid, u);
      records.erase(rec);
    }
    ::closedir(dir);
  }
  for (auto& [uuid, r] : records) (void)meta_->DeleteUpload(uuid);  // no file: cannot resume
  if (!table_.empty()) WLOG_INFO("uploads: %zu resumable after restart", table_.size());
  return Status();
}

size_t UploadManager::InProgress() {
  std::lock_guard<std::mutex> lock(mu_);
  return table_.size();
}

Result<std::shared_ptr<Upload>> UploadManager::Start(const std::string& repo) {
  auto u = std::make_shared<Upload>(hashing_);
  u->uuid = RandomUuid();
  u->repo = repo;
  u->path = blobs_->uploads_dir() + "/" + u->uuid;
  u->fd = ::open(u->path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (u->fd < 0) return Status::FromErrno(errno, "create upload");
  u->started_ms = u->touched_ms = NowMs();
  Status st = meta_->PutUpload(u->uuid, UploadRecord{repo, u->started_ms});
  if (!st.ok()) {
    ::unlink(u->path.c_str());
    return st;
  }
  u->busy = true;
  std::lock_guard<std::mutex> lock(mu_);
  table_.emplace(u->uuid, u);
  return u;
}

Result<std::shared_ptr<Upload>> UploadManager::Acquire(const std::string& repo,
                                                       const std::string& uuid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = table_.find(uuid);
  if (it == table_.end() || it->second->repo != repo) return NotFound("upload unknown");
  if (it->second->busy)
    return Status(Code::kUnavailable, "upload is in use by another request");
  it->second->busy = true;
  return it->second;
}

void UploadManager::Release(const std::shared_ptr<Upload>& u) {
  std::lock_guard<std::mutex> lock(mu_);
  u->busy = false;
  u->touched_ms = NowMs();
}

Result<uint64_t> UploadManager::Size(const std::string& repo, const std::string& uuid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = table_.find(uuid);
  if (it == table_.end() || it->second->repo != repo) return NotFound("upload unknown");
  return it->second->size;
}

Status UploadManager::CheckCap(uint64_t size) const {
  if (max_blob_bytes_ && size > max_blob_bytes_)
    return Status(Code::kTooLarge, "blob larger than " + std::to_string(max_blob_bytes_) + " bytes");
  return Status();
}

Status UploadManager::Expect(Upload& u, uint64_t bytes) {
  WHARF_RETURN_IF_ERROR(CheckCap(u.size + bytes));
  u.writing.Aim(u.size, u.size + bytes);
  return u.writing.Before(u.fd, u.size + 1);  // the first window: a full disk says so now
}

Status UploadManager::Append(Upload& u, std::string_view data) {
  WHARF_RETURN_IF_ERROR(CheckCap(u.size + data.size()));
  WHARF_RETURN_IF_ERROR(u.writing.Before(u.fd, u.size + data.size()));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::pwrite(u.fd, data.data() + off, data.size() - off,
                         static_cast<off_t>(u.size + off));
    if (n < 0) {
      if (errno == EINTR) continue;
      Status st = Status::FromErrno(errno, "write upload");
      if (::ftruncate(u.fd, static_cast<off_t>(u.size)) != 0) u.sha256.Stop();
      return st;
    }
    off += static_cast<size_t>(n);
  }
  u.sha256.Wrote(u.fd, data);
  u.size += data.size();
  u.writing.After(u.fd, u.size);
  return Status();
}

void UploadManager::Rewind(Upload& u, uint64_t size) {
  if (size >= u.size) return;
  u.sha256.Stop();  // it must not read back what is about to go
  if (::ftruncate(u.fd, static_cast<off_t>(size)) != 0) {
    WLOG_WARN("upload %s: cannot cut back to %llu bytes: %s", u.uuid.c_str(),
              static_cast<unsigned long long>(size), strerror(errno));
    return;  // the size stays what the file says; the client can ask
  }
  u.size = size;
}

void UploadManager::Remove(const std::shared_ptr<Upload>& u) {
  ::unlink(u->path.c_str());
  {
    std::lock_guard<std::mutex> lock(mu_);
    table_.erase(u->uuid);
  }
  Status st = meta_->DeleteUpload(u->uuid);
  if (!st.ok()) WLOG_WARN("upload %s: %s", u->uuid.c_str(), st.ToString().c_str());
}

Status UploadManager::Commit(const std::shared_ptr<Upload>& u, const Digest& want) {
  auto got = u->sha256.Finish(u->fd, want.algo);
  if (!got.ok()) return got.status();
  if (!(*got == want)) {
    Remove(u);
    return Invalid("content digest is " + got->str());
  }
  // A blob keeps no blocks reserved past its end (by a request that ended
  // short, maybe before a crash); ftruncate to the same size releases them.
  if (::ftruncate(u->fd, static_cast<off_t>(u->size)) != 0)
    return Status::FromErrno(errno, "trim upload");
  Status st = blobs_->Commit(u->fd, u->path, want);
  if (!st.ok()) return st;  // the upload file stays: the client may retry
  // The file is durable under its blob name; now the record, in one batch.
  st = meta_->CommitBlob(u->repo, want.str(), u->size, Origin::kPushed, u->uuid);
  if (!st.ok()) return st;
  std::lock_guard<std::mutex> lock(mu_);
  table_.erase(u->uuid);
  return Status();
}

Status UploadManager::Cancel(const std::shared_ptr<Upload>& u) {
  Remove(u);
  return Status();
}

size_t UploadManager::Expire(int64_t max_idle_ms) {
  std::vector<std::shared_ptr<Upload>> stale;
  const int64_t now = NowMs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [uuid, u] : table_) {
      if (!u->busy && now - u->touched_ms > max_idle_ms) {
        u->busy = true;
        stale.push_back(u);
      }
    }
  }
  for (auto& u : stale) Remove(u);
  return stale.size();
}

}  // namespace wharf::storage
