// MetaStore: the registry's metadata index in RocksDB.
//
// Key families (one prefix byte each, fields separated by NUL, which no
// validated name, tag or digest can contain; RocksDB's bytewise order gives
// lexical order within a family):
//   n\0<repo>                      repository exists (catalog)
//   t\0<repo>\0<tag>               -> TagRecord (digest, media type, size)
//   m\0<repo>\0<digest>            -> ManifestRecord
//   l\0<repo>\0<digest>            -> blob size: the blob is visible in <repo>
//   b\0<digest>                    -> BlobRecord
//   r\0<repo>\0<subject>\0<digest> -> referrer descriptor (JSON)
//   u\0<uuid>                      -> UploadRecord
//   a\0<digest>                    -> last pull of cached content, ms (decimal)
//   h\0                            -> the health probe's last write, ms (decimal)
//   v\0                            -> the format of all of the above (decimal),
//                                     MetaStore::kFormat when this binary wrote it
// Every mutation that must be durable when a client gets its 201/202 is one
// WriteBatch written with sync=true, so it lands whole or not at all.
//
// Thread-safety: RocksDB is thread-safe; so is every method here.
#pragma once

#include <rocksdb/db.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace wharf::storage {

enum class Origin { kPushed = 0, kCached = 1 };

struct TagRecord {
  std::string digest;
  std::string media_type;
  uint64_t size = 0;
};

struct ManifestRecord {
  std::string media_type;
  uint64_t size = 0;
  std::string subject;        // digest of the subject manifest, or empty
  std::string artifact_type;  // for referrers, or empty
  int64_t created_ms = 0;
};

struct BlobRecord {
  uint64_t size = 0;
  int64_t created_ms = 0;
  Origin origin = Origin::kPushed;
};

struct UploadRecord {
  std::string repo;
  int64_t started_ms = 0;
};

// A manifest write: everything a manifest PUT commits in one batch.
struct ManifestWrite {
  std::string repo;
  std::string digest;
  ManifestRecord record;
  std::optional<std::string> tag;
  std::string referrer_descriptor;  // JSON; stored when record.subject is set
  Origin origin = Origin::kPushed;   // cached: pulled through the proxy
  // The tag is immutable: it may be created, or written again at the same
  // digest, but if it points at another manifest nothing is written.
  bool tag_fixed = false;
};

class MetaStore {
 public:
  // The format this binary reads and writes. A change of key families or
  // records that an older binary would misread raises it, and Open() then
  // migrates older data.
  static constexpr int kFormat = 1;
  // Opens (creating if needed) the database in `dir`; a new or unmarked one
  // is marked with kFormat. kUnsupported, with nothing written, when the
  // data is of a later format: a newer Wharf wrote it, and this one could
  // misread it (e.g. after a downgrade).
  static Result<std::unique_ptr<MetaStore>> Open(const std::string& dir);
  MetaStore(const MetaStore&) = delete;
  MetaStore& operator=(const MetaStore&) = delete;
  ~MetaStore();

  // --- blobs
  // The size of blob `digest` if it is linked into `repo`; kNotFound if not.
  Result<uint64_t> LinkedSize(const std::string& repo, const std::string& digest) const;
  Result<BlobRecord> GetBlob(const std::string& digest) const;
  // Records a committed blob and links it into `repo`; removes upload
  // `upload_uuid` (if not empty) in the same batch.
  Status CommitBlob(const std::string& repo, const std::string& digest, uint64_t size,
                    Origin origin, const std::string& upload_uuid);
  Status Unlink(const std::string& repo, const std::string& digest);

  // --- manifests and tags
  Result<ManifestRecord> GetManifest(const std::string& repo, const std::string& digest) const;
  Result<TagRecord> GetTag(const std::string& repo, const std::string& tag) const;
  // kExists (its message the digest the tag points at) when w.tag_fixed
  // and the tag points at another manifest; the check and the write are
  // one step against every other fixed write and DeleteManifest.
  Status PutManifest(const ManifestWrite& w);
  Status DeleteTag(const std::string& repo, const std::string& tag);
  // Removes the manifest, every tag in `repo` that points at it and its
  // referrer entry. kDenied (its message the tag) and nothing removed when
  // `fixed` (may be empty) says one of those tags must stay.
  Status DeleteManifest(const std::string& repo, const std::string& digest,
                        const std::function<bool(const std::string& tag)>& fixed = nullptr);
  // Digests tagged in `repo`, in tag order.
  Status TagsPointingAt(const std::string& repo, const std::string& digest,
                        std::vector<std::string>* tags) const;

  // Every blob link and every manifest of the repositories whose names
  // begin with `name_start` ("team" reaches "team/app" and "teamwork"):
  // fn(repo, digest, size, manifest), the links first. One ordered scan of
  // each key family.
  Status ForEachStoredUnder(const std::string& name_start,
                            const std::function<void(std::string_view repo, std::string_view digest,
                                                     uint64_t size, bool manifest)>& fn) const;

  // --- listing (lexical order, strictly after `last`, at most n; *more tells
  // whether further entries exist)
  Status ListTags(const std::string& repo, const std::string& last, size_t n,
                  std::vector<std::string>* out, bool* more) const;
  // Hosted repositories only: the proxy's internal ones ("~<registry>/...")
  // are not listed.
  Status ListRepos(const std::string& last, size_t n, std::vector<std::string>* out,
                   bool* more) const;
  bool RepoExists(const std::string& repo) const;
  // Referrer descriptors (JSON) of `subject` in `repo`.
  Status ListReferrers(const std::string& repo, const std::string& subject,
                       std::vector<std::string>* out) const;

  // --- uploads
  Status PutUpload(const std::string& uuid, const UploadRecord& r);
  Result<UploadRecord> GetUpload(const std::string& uuid) const;
  Status DeleteUpload(const std::string& uuid);
  Status ForEachUpload(const std::function<void(const std::string&, const UploadRecord&)>& fn) const;

  // --- when cached content was last pulled (the evictor's order and the
  // proxy.cache_max_idle clock, kept across restarts)
  // Records each (digest, ms since the epoch), replacing what was recorded.
  // Not synced: a power cut loses at most the last few seconds of accesses,
  // which only makes their blobs look older.
  Status RecordAccess(const std::vector<std::pair<std::string, int64_t>>& accesses);
  Status ForEachAccess(const std::function<void(const std::string& digest, int64_t ms)>& fn) const;
  Status ForgetAccess(const std::vector<std::string>& digests);

  // --- health
  // Writes the probe key (synced, so a failing write-ahead log shows) and
  // reads it back. An error means metadata writes fail: RocksDB refuses
  // them after a background error (an I/O error, a full disk) until it
  // recovers, and a filesystem gone read-only refuses the log.
  Status Probe(int64_t now_ms);

  // --- garbage collection
  Status ForEachManifest(
      const std::function<void(const std::string& repo, const std::string& digest,
                               const ManifestRecord&)>& fn) const;
  Status ForEachTag(
      const std::function<void(const std::string& repo, const std::string& tag,
                               const TagRecord&)>& fn) const;
  Status ForEachBlob(const std::function<void(const std::string&, const BlobRecord&)>& fn) const;
  // Removes these blob records, their access times and their links in
  // every repository.
  Status ForgetBlobs(const std::set<std::string>& digests);

 private:
  explicit MetaStore(rocksdb::DB* db) : db_(db) {}
  Status Get(const std::string& key, std::string* value) const;
  // sync=false for records that need not survive power loss (upload state).
  Status Write(rocksdb::WriteBatch* b, bool sync = true);
  // Calls fn(key suffix after prefix, value) for each key starting with prefix
  // and strictly greater than prefix+after; stops when fn returns false.
  Status Scan(const std::string& prefix, const std::string& after,
              const std::function<bool(std::string_view, std::string_view)>& fn) const;

  std::unique_ptr<rocksdb::DB> db_;
  // Serialises the read-then-write of immutable tags (see PutManifest).
  std::mutex fixed_tags_mu_;
};

int64_t NowMs();

// Content pulled through the proxy is stored under internal repository names
// "~<registry>/<repo>", which no client can name; the catalog skips them.
inline bool IsCachedRepo(std::string_view repo) { return !repo.empty() && repo[0] == '~'; }

}  // namespace wharf::storage
