#include "storage/meta_store.h"

#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/write_batch.h>

#include <charconv>

#include "util/clock.h"
#include "util/log.h"

namespace wharf::storage {
namespace {

std::string Key(char family, std::string_view a) {
  std::string k;
  k.reserve(2 + a.size());
  k += family;
  k += '\0';
  k += a;
  return k;
}
std::string Key(char family, std::string_view a, std::string_view b) {
  std::string k = Key(family, a);
  k += '\0';
  k += b;
  return k;
}

// Records are '\n'-separated fields; no field can hold a newline (media
// types and digests are validated before they get here).
std::vector<std::string_view> Fields(std::string_view v) {
  std::vector<std::string_view> f;
  while (true) {
    size_t nl = v.find('\n');
    f.push_back(v.substr(0, nl));
    if (nl == std::string_view::npos) break;
    v.remove_prefix(nl + 1);
  }
  return f;
}

template <class T>
T Num(std::string_view s) {
  T v{};
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status();
  if (s.IsNotFound()) return NotFound(what);
  if (s.IsNoSpace()) return Status(Code::kNoSpace, what + ": " + s.ToString());
  return Status(Code::kIO, what + ": " + s.ToString());
}

std::string EncodeManifest(const ManifestRecord& r) {
  return r.media_type + "\n" + std::to_string(r.size) + "\n" + r.subject + "\n" +
         r.artifact_type + "\n" + std::to_string(r.created_ms);
}

ManifestRecord DecodeManifest(std::string_view v) {
  auto f = Fields(v);
  ManifestRecord r;
  if (f.size() >= 5) {
    r.media_type = std::string(f[0]);
    r.size = Num<uint64_t>(f[1]);
    r.subject = std::string(f[2]);
    r.artifact_type = std::string(f[3]);
    r.created_ms = Num<int64_t>(f[4]);
  }
  return r;
}

std::string EncodeBlob(const BlobRecord& r) {
  return std::to_string(r.size) + "\n" + std::to_string(r.created_ms) + "\n" +
         std::to_string(static_cast<int>(r.origin));
}

BlobRecord DecodeBlob(std::string_view v) {
  auto f = Fields(v);
  BlobRecord r;
  if (f.size() >= 3) {
    r.size = Num<uint64_t>(f[0]);
    r.created_ms = Num<int64_t>(f[1]);
    r.origin = static_cast<Origin>(Num<int>(f[2]));
  }
  return r;
}

}  // namespace

int64_t NowMs() { return WallMs(); }

Result<std::unique_ptr<MetaStore>> MetaStore::Open(const std::string& dir) {
  rocksdb::Options opt;
  opt.create_if_missing = true;
  opt.IncreaseParallelism(2);
  rocksdb::BlockBasedTableOptions t;
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  opt.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  opt.keep_log_file_num = 4;
  // Startup time after a crash is the time to replay the write-ahead log:
  // a smaller memtable bounds that log, and replayed entries stay in memory
  // instead of being flushed to a new table file before the first request.
  opt.write_buffer_size = 16 << 20;
  opt.avoid_flush_during_recovery = true;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(opt, dir, &db);
  if (!s.ok()) return Status(Code::kIO, "open metadata " + dir + ": " + s.ToString());
  std::unique_ptr<MetaStore> store(new MetaStore(db));
  std::string v;
  Status st = store->Get(Key('v', ""), &v);
  if (st.code() == Code::kNotFound) {
    rocksdb::WriteBatch b;
    b.Put(Key('v', ""), std::to_string(kFormat));
    st = store->Write(&b);
  } else if (st.ok()) {
    const int format = Num<int>(v);
    if (format > kFormat)
      return Status(Code::kUnsupported, "metadata in " + dir + " is of format " + v +
                                            ", which a newer Wharf wrote; this one reads format " +
                                            std::to_string(kFormat) + ": run that version (or a later one) on it");
    if (format != kFormat)
      return Status(Code::kUnsupported, "metadata in " + dir + " has an unknown format mark '" + v + "'");
  }
  if (!st.ok()) return st;
  return store;
}

MetaStore::~MetaStore() {
  // Flushed on a clean stop, so the next start has no log to replay.
  if (db_) {
    rocksdb::Status s = db_->Flush(rocksdb::FlushOptions());
    if (!s.ok()) WLOG_WARN("metadata flush at close: %s", s.ToString().c_str());
    db_->Close();
  }
}

Status MetaStore::Get(const std::string& key, std::string* value) const {
  return FromRocks(db_->Get(rocksdb::ReadOptions(), key, value), "metadata lookup");
}

Status MetaStore::Write(rocksdb::WriteBatch* b, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return FromRocks(db_->Write(wo, b), "metadata write");
}

Status MetaStore::Scan(const std::string& prefix, const std::string& after,
                       const std::function<bool(std::string_view, std::string_view)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  std::string start = prefix + after;
  for (it->Seek(start); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    if (!k.starts_with(prefix)) break;
    std::string_view rest(k.data() + prefix.size(), k.size() - prefix.size());
    if (!after.empty() && rest == after) continue;
    if (!fn(rest, std::string_view(it->value().data(), it->value().size()))) break;
  }
  return FromRocks(it->status(), "metadata scan");
}

Result<uint64_t> MetaStore::LinkedSize(const std::string& repo, const std::string& digest) const {
  std::string v;
  WHARF_RETURN_IF_ERROR(Get(Key('l', repo, digest), &v));
  return Num<uint64_t>(v);
}

Result<BlobRecord> MetaStore::GetBlob(const std::string& digest) const {
  std::string v;
  WHARF_RETURN_IF_ERROR(Get(Key('b', digest), &v));
  return DecodeBlob(v);
}

Status MetaStore::CommitBlob(const std::string& repo, const std::string& digest, uint64_t size,
                             Origin origin, const std::string& upload_uuid) {
  rocksdb::WriteBatch b;
  std::string existing;
  Status st = Get(Key('b', digest), &existing);
  if (st.code() == Code::kNotFound) {
    b.Put(Key('b', digest), EncodeBlob(BlobRecord{size, NowMs(), origin}));
  } else if (!st.ok()) {
    return st;
  } else if (origin == Origin::kPushed && DecodeBlob(existing).origin != Origin::kPushed) {
    // A push promotes a cached blob: pushed content is never evicted.
    BlobRecord r = DecodeBlob(existing);
    r.origin = Origin::kPushed;
    b.Put(Key('b', digest), EncodeBlob(r));
  }
  b.Put(Key('l', repo, digest), std::to_string(size));
  b.Put(Key('n', repo), "");
  if (!upload_uuid.empty()) b.Delete(Key('u', upload_uuid));
  return Write(&b);
}

Status MetaStore::Unlink(const std::string& repo, const std::string& digest) {
  rocksdb::WriteBatch b;
  b.Delete(Key('l', repo, digest));
  return Write(&b);
}

Result<ManifestRecord> MetaStore::GetManifest(const std::string& repo,
                                              const std::string& digest) const {
  std::string v;
  WHARF_RETURN_IF_ERROR(Get(Key('m', repo, digest), &v));
  return DecodeManifest(v);
}

namespace {
TagRecord DecodeTag(std::string_view v) {
  auto f = Fields(v);
  TagRecord r;
  if (f.size() >= 3) {
    r.digest = std::string(f[0]);
    r.media_type = std::string(f[1]);
    r.size = Num<uint64_t>(f[2]);
  }
  return r;
}
}  // namespace

Result<TagRecord> MetaStore::GetTag(const std::string& repo, const std::string& tag) const {
  std::string v;
  WHARF_RETURN_IF_ERROR(Get(Key('t', repo, tag), &v));
  return DecodeTag(v);
}

Status MetaStore::PutManifest(const ManifestWrite& w) {
  std::unique_lock<std::mutex> fixed;
  if (w.tag && w.tag_fixed) {
    fixed = std::unique_lock<std::mutex>(fixed_tags_mu_);
    auto t = GetTag(w.repo, *w.tag);
    if (t.ok() && t->digest != w.digest) return Status(Code::kExists, t->digest);
    if (!t.ok() && t.status().code() != Code::kNotFound) return t.status();
  }
  rocksdb::WriteBatch b;
  const ManifestRecord& r = w.record;
  std::string existing;
  Status st = Get(Key('b', w.digest), &existing);
  if (st.code() == Code::kNotFound) {
    b.Put(Key('b', w.digest), EncodeBlob(BlobRecord{r.size, NowMs(), w.origin}));
  } else if (!st.ok()) {
    return st;
  } else if (w.origin == Origin::kPushed && DecodeBlob(existing).origin != Origin::kPushed) {
    BlobRecord promoted = DecodeBlob(existing);  // pushed content is never evicted
    promoted.origin = Origin::kPushed;
    b.Put(Key('b', w.digest), EncodeBlob(promoted));
  }
  b.Put(Key('m', w.repo, w.digest), EncodeManifest(r));
  if (w.tag)
    b.Put(Key('t', w.repo, *w.tag), w.digest + "\n" + r.media_type + "\n" + std::to_string(r.size));
  if (!r.subject.empty())
    b.Put(Key('r', w.repo, r.subject + std::string(1, '\0') + w.digest), w.referrer_descriptor);
  b.Put(Key('n', w.repo), "");
  return Write(&b);
}

Status MetaStore::DeleteTag(const std::string& repo, const std::string& tag) {
  rocksdb::WriteBatch b;
  b.Delete(Key('t', repo, tag));
  return Write(&b);
}

Status MetaStore::TagsPointingAt(const std::string& repo, const std::string& digest,
                                 std::vector<std::string>* tags) const {
  return Scan(Key('t', repo) + std::string(1, '\0'), "",
              [&](std::string_view tag, std::string_view v) {
                if (v.substr(0, v.find('\n')) == digest) tags->emplace_back(tag);
                return true;
              });
}

Status MetaStore::DeleteManifest(const std::string& repo, const std::string& digest,
                                 const std::function<bool(const std::string& tag)>& fixed) {
  std::unique_lock<std::mutex> guard;
  if (fixed) guard = std::unique_lock<std::mutex>(fixed_tags_mu_);
  auto rec = GetManifest(repo, digest);
  if (!rec.ok()) return rec.status();
  std::vector<std::string> tags;
  WHARF_RETURN_IF_ERROR(TagsPointingAt(repo, digest, &tags));
  if (fixed)
    for (const auto& t : tags)
      if (fixed(t)) return Status(Code::kDenied, t);
  rocksdb::WriteBatch b;
  b.Delete(Key('m', repo, digest));
  for (const auto& t : tags) b.Delete(Key('t', repo, t));
  if (!rec->subject.empty()) b.Delete(Key('r', repo, rec->subject + std::string(1, '\0') + digest));
  return Write(&b);
}

Status MetaStore::ListTags(const std::string& repo, const std::string& last, size_t n,
                           std::vector<std::string>* out, bool* more) const {
  *more = false;
  return Scan(Key('t', repo) + std::string(1, '\0'), last,
              [&](std::string_view tag, std::string_view) {
                if (out->size() >= n) {
                  *more = true;
                  return false;
                }
                out->emplace_back(tag);
                return true;
              });
}

Status MetaStore::ListRepos(const std::string& last, size_t n, std::vector<std::string>* out,
                            bool* more) const {
  *more = false;
  return Scan(std::string("n\0", 2), last, [&](std::string_view repo, std::string_view) {
    if (IsCachedRepo(repo)) return true;
    if (out->size() >= n) {
      *more = true;
      return false;
    }
    out->emplace_back(repo);
    return true;
  });
}

bool MetaStore::RepoExists(const std::string& repo) const {
  std::string v;
  return Get(Key('n', repo), &v).ok();
}

Status MetaStore::ListReferrers(const std::string& repo, const std::string& subject,
                                std::vector<std::string>* out) const {
  return Scan(Key('r', repo, subject) + std::string(1, '\0'), "",
              [&](std::string_view, std::string_view v) {
                out->emplace_back(v);
                return true;
              });
}

Status MetaStore::PutUpload(const std::string& uuid, const UploadRecord& r) {
  rocksdb::WriteBatch b;
  b.Put(Key('u', uuid), r.repo + "\n" + std::to_string(r.started_ms));
  return Write(&b, false);
}

Result<UploadRecord> MetaStore::GetUpload(const std::string& uuid) const {
  std::string v;
  WHARF_RETURN_IF_ERROR(Get(Key('u', uuid), &v));
  auto f = Fields(v);
  UploadRecord r;
  r.repo = std::string(f[0]);
  if (f.size() > 1) r.started_ms = Num<int64_t>(f[1]);
  return r;
}

Status MetaStore::DeleteUpload(const std::string& uuid) {
  rocksdb::WriteBatch b;
  b.Delete(Key('u', uuid));
  return Write(&b, false);
}

Status MetaStore::ForEachUpload(
    const std::function<void(const std::string&, const UploadRecord&)>& fn) const {
  return Scan(std::string("u\0", 2), "", [&](std::string_view uuid, std::string_view v) {
    auto f = Fields(v);
    UploadRecord r;
    r.repo = std::string(f[0]);
    if (f.size() > 1) r.started_ms = Num<int64_t>(f[1]);
    fn(std::string(uuid), r);
    return true;
  });
}

Status MetaStore::RecordAccess(const std::vector<std::pair<std::string, int64_t>>& accesses) {
  if (accesses.empty()) return Status();
  rocksdb::WriteBatch b;
  for (const auto& [digest, ms] : accesses) b.Put(Key('a', digest), std::to_string(ms));
  return Write(&b, /*sync=*/false);
}

Status MetaStore::ForEachAccess(const std::function<void(const std::string&, int64_t)>& fn) const {
  return Scan(std::string("a\0", 2), "", [&](std::string_view digest, std::string_view v) {
    fn(std::string(digest), Num<int64_t>(v));
    return true;
  });
}

Status MetaStore::ForgetAccess(const std::vector<std::string>& digests) {
  if (digests.empty()) return Status();
  rocksdb::WriteBatch b;
  for (const auto& d : digests) b.Delete(Key('a', d));
  return Write(&b, /*sync=*/false);
}

Status MetaStore::Probe(int64_t now_ms) {
  const std::string key = Key('h', ""), value = std::to_string(now_ms);
  rocksdb::WriteBatch b;
  b.Put(key, value);
  WHARF_RETURN_IF_ERROR(Write(&b, /*sync=*/true));
  std::string back;
  WHARF_RETURN_IF_ERROR(Get(key, &back));
  if (back != value) return Status(Code::kInternal, "metadata probe read back '" + back + "'");
  return Status();
}

Status MetaStore::ForEachManifest(
    const std::function<void(const std::string&, const std::string&, const ManifestRecord&)>& fn)
    const {
  return Scan(std::string("m\0", 2), "", [&](std::string_view k, std::string_view v) {
    size_t sep = k.find('\0');
    fn(std::string(k.substr(0, sep)), std::string(k.substr(sep + 1)), DecodeManifest(v));
    return true;
  });
}

Status MetaStore::ForEachStoredUnder(
    const std::string& name_start,
    const std::function<void(std::string_view, std::string_view, uint64_t, bool)>& fn) const {
  std::string repo;
  for (char family : {'l', 'm'}) {
    WHARF_RETURN_IF_ERROR(Scan(Key(family, name_start), "", [&](std::string_view rest, std::string_view v) {
      const size_t sep = rest.find('\0');
      if (sep == std::string_view::npos) return true;
      repo.assign(name_start).append(rest.substr(0, sep));
      fn(repo, rest.substr(sep + 1), family == 'l' ? Num<uint64_t>(v) : DecodeManifest(v).size, family == 'm');
      return true;
    }));
  }
  return Status();
}

Status MetaStore::ForEachTag(
    const std::function<void(const std::string&, const std::string&, const TagRecord&)>& fn) const {
  return Scan(std::string("t\0", 2), "", [&](std::string_view k, std::string_view v) {
    size_t sep = k.find('\0');
    fn(std::string(k.substr(0, sep)), std::string(k.substr(sep + 1)), DecodeTag(v));
    return true;
  });
}

Status MetaStore::ForEachBlob(
    const std::function<void(const std::string&, const BlobRecord&)>& fn) const {
  return Scan(std::string("b\0", 2), "", [&](std::string_view k, std::string_view v) {
    fn(std::string(k), DecodeBlob(v));
    return true;
  });
}

Status MetaStore::ForgetBlobs(const std::set<std::string>& digests) {
  if (digests.empty()) return Status();
  rocksdb::WriteBatch b;
  for (const auto& d : digests) {
    b.Delete(Key('b', d));
    b.Delete(Key('a', d));
  }
  Status st = Scan(std::string("l\0", 2), "", [&](std::string_view k, std::string_view) {
    size_t sep = k.rfind('\0');
    if (digests.count(std::string(k.substr(sep + 1))))
      b.Delete(Key('l', k.substr(0, sep), k.substr(sep + 1)));
    return true;
  });
  WHARF_RETURN_IF_ERROR(st);
  return Write(&b);
}

}  // namespace wharf::storage
