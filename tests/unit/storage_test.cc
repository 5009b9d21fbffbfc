// MetaStore ordering and pagination, and the upload state machine, on a real
// RocksDB and real files in a temporary directory.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <atomic>
#include <filesystem>
#include <thread>

#include "registry/storage_health.h"
#include "storage/blob_store.h"
#include "storage/meta_store.h"
#include "storage/sequential_write.h"
#include "storage/uploads.h"

namespace wharf::storage {
namespace {

class StorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/wharf-storage-XXXXXX";
    root_ = mkdtemp(tmpl);
    blobs_ = std::make_unique<BlobStore>(root_);
    ASSERT_TRUE(blobs_->Init().ok());
    auto m = MetaStore::Open(root_ + "/meta");
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    meta_ = std::move(*m);
    uploads_ = std::make_unique<UploadManager>(blobs_.get(), meta_.get(), 1 << 20, &hashing_);
    ASSERT_TRUE(uploads_->Init().ok());
  }
  void TearDown() override {
    uploads_.reset();
    meta_.reset();
    std::filesystem::remove_all(root_);
  }
  void Reopen() {
    uploads_.reset();
    meta_.reset();
    auto m = MetaStore::Open(root_ + "/meta");
    ASSERT_TRUE(m.ok());
    meta_ = std::move(*m);
    uploads_ = std::make_unique<UploadManager>(blobs_.get(), meta_.get(), 1 << 20, &hashing_);
    ASSERT_TRUE(uploads_->Init().ok());
  }
  std::string root_;
  std::unique_ptr<BlobStore> blobs_;
  std::unique_ptr<MetaStore> meta_;
  // Uploads are hashed on its thread when it is idle and inline otherwise, so
  // the upload tests cover both.
  HashPool hashing_{1};
  std::unique_ptr<UploadManager> uploads_;
};

TEST_F(StorageTest, TagsListInLexicalOrderWithPagination) {
  const std::string d = "sha256:" + std::string(64, 'a');
  for (const char* t : {"b", "a", "C", "a1", "10", "9"}) {
    ManifestWrite w{"repo", d, ManifestRecord{"application/x+json", 1, "", "", 0}, std::string(t), ""};
    ASSERT_TRUE(meta_->PutManifest(w).ok());
  }
  // Another repository whose name extends this one must not leak in.
  ManifestWrite other{"repo/sub", d, ManifestRecord{"application/x+json", 1, "", "", 0}, std::string("zz"), ""};
  ASSERT_TRUE(meta_->PutManifest(other).ok());
  std::vector<std::string> page;
  bool more;
  ASSERT_TRUE(meta_->ListTags("repo", "", 100, &page, &more).ok());
  EXPECT_EQ(page, (std::vector<std::string>{"10", "9", "C", "a", "a1", "b"}));
  EXPECT_FALSE(more);
  page.clear();
  ASSERT_TRUE(meta_->ListTags("repo", "", 2, &page, &more).ok());
  EXPECT_EQ(page, (std::vector<std::string>{"10", "9"}));
  EXPECT_TRUE(more);
  page.clear();
  ASSERT_TRUE(meta_->ListTags("repo", "C", 2, &page, &more).ok());
  EXPECT_EQ(page, (std::vector<std::string>{"a", "a1"}));
  EXPECT_TRUE(more);
  page.clear();
  ASSERT_TRUE(meta_->ListTags("repo", "a1", 2, &page, &more).ok());
  EXPECT_EQ(page, (std::vector<std::string>{"b"}));
  EXPECT_FALSE(more);
  page.clear();
  ASSERT_TRUE(meta_->ListRepos("", 10, &page, &more).ok());
  EXPECT_EQ(page, (std::vector<std::string>{"repo", "repo/sub"}));
}

TEST_F(StorageTest, UploadLifecycle) {
  auto u = uploads_->Start("r");
  ASSERT_TRUE(u.ok());
  // Busy while the creating request holds it.
  EXPECT_EQ(uploads_->Acquire("r", (*u)->uuid).status().code(), Code::kUnavailable);
  ASSERT_TRUE(uploads_->Append(**u, "hello ").ok());
  uploads_->Release(*u);
  EXPECT_EQ(*uploads_->Size("r", (*u)->uuid), 6u);
  EXPECT_EQ(uploads_->Acquire("other", (*u)->uuid).status().code(), Code::kNotFound);
  auto again = uploads_->Acquire("r", (*u)->uuid);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(uploads_->Append(**again, "world").ok());
  Digest want = DigestOf("hello world");
  ASSERT_TRUE(uploads_->Commit(*again, want).ok());
  uploads_->Release(*again);
  EXPECT_EQ(uploads_->Size("r", (*u)->uuid).status().code(), Code::kNotFound);
  EXPECT_EQ(*meta_->LinkedSize("r", want.str()), 11u);
  EXPECT_TRUE(blobs_->Exists(want));
}

TEST_F(StorageTest, DigestMismatchDiscardsEverything) {
  auto u = uploads_->Start("r");
  ASSERT_TRUE(uploads_->Append(**u, "data").ok());
  Status st = uploads_->Commit(*u, DigestOf("other"));
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_FALSE(blobs_->Exists(DigestOf("data")));
  EXPECT_FALSE(blobs_->Exists(DigestOf("other")));
  EXPECT_FALSE(meta_->LinkedSize("r", DigestOf("data").str()).ok());
  EXPECT_EQ(uploads_->Size("r", (*u)->uuid).status().code(), Code::kNotFound);
  EXPECT_FALSE(std::filesystem::exists((*u)->path));
}

TEST_F(StorageTest, SizeCapRefusesWithoutCorruption) {
  auto u = uploads_->Start("r");
  ASSERT_TRUE(uploads_->Append(**u, std::string(1000, 'x')).ok());
  EXPECT_EQ(uploads_->Append(**u, std::string(1 << 20, 'y')).code(), Code::kTooLarge);
  EXPECT_EQ((*u)->size, 1000u);
  ASSERT_TRUE(uploads_->Commit(*u, DigestOf(std::string(1000, 'x'))).ok());
}

// Bytes of disk a file holds (its reserved blocks included).
uint64_t DiskBytes(int fd) {
  struct stat st;
  EXPECT_EQ(::fstat(fd, &st), 0);
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

// Whether the filesystem under `dir` reserves space at all (tmpfs on old
// kernels does not); the reservation assertions need it.
bool CanReserve(const std::string& dir) {
  std::string path = dir + "/probe";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
  bool ok = fd >= 0 && ::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4096) == 0;
  if (fd >= 0) ::close(fd);
  ::unlink(path.c_str());
  return ok;
}

TEST_F(StorageTest, SequentialWriteReservesAheadInStepsWithoutGrowingTheFile) {
  if (!CanReserve(root_)) GTEST_SKIP() << "the filesystem cannot reserve space";
  int fd = ::open((root_ + "/f").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  constexpr uint64_t kMiB = 1 << 20;
  SequentialWrite w;
  ASSERT_TRUE(w.Before(fd, 10 * kMiB).ok());  // not aimed: nothing to do
  EXPECT_LT(DiskBytes(fd), kMiB);
  w.Aim(0, 100 * kMiB);
  ASSERT_TRUE(w.Before(fd, 1).ok());
  EXPECT_GE(DiskBytes(fd), 64 * kMiB);  // one window, not the whole target
  EXPECT_LT(DiskBytes(fd), 65 * kMiB);
  ASSERT_TRUE(w.Before(fd, 64 * kMiB).ok());  // still inside the window
  EXPECT_LT(DiskBytes(fd), 65 * kMiB);
  ASSERT_TRUE(w.Before(fd, 64 * kMiB + 1).ok());
  EXPECT_GE(DiskBytes(fd), 100 * kMiB);  // the next window stops at the target
  EXPECT_LT(DiskBytes(fd), 101 * kMiB);
  struct stat st;
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 0);  // the size still says "nothing written"
  ::close(fd);
}

TEST_F(StorageTest, AnnouncedLengthIsCappedAndItsUnusedReservationReleased) {
  auto u = uploads_->Start("r");
  ASSERT_TRUE(u.ok());
  // Past the 1 MiB cap: refused before any byte is written.
  EXPECT_EQ(uploads_->Expect(**u, 2 << 20).code(), Code::kTooLarge);
  EXPECT_EQ((*u)->size, 0u);
  ASSERT_TRUE(uploads_->Expect(**u, 900 << 10).ok());
  const std::string data(1000, 'z');  // the request ends far short of 900 KiB
  ASSERT_TRUE(uploads_->Append(**u, data).ok());
  if (CanReserve(root_)) {
    EXPECT_GE(DiskBytes((*u)->fd), 900u << 10);
  }
  ASSERT_TRUE(uploads_->Commit(*u, DigestOf(data)).ok());
  uint64_t size = 0;
  auto fd = blobs_->Open(DigestOf(data), &size);
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(size, 1000u);
  EXPECT_LE(DiskBytes(*fd), 64u << 10);  // the blob keeps no reservation
  ::close(*fd);
}

TEST_F(StorageTest, UploadsResumeAfterRestart) {
  auto u = uploads_->Start("r");
  ASSERT_TRUE(uploads_->Append(**u, "part one, ").ok());
  uploads_->Release(*u);
  std::string uuid = (*u)->uuid;
  u = Status();
  Reopen();
  auto again = uploads_->Acquire("r", uuid);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE((*again)->sha256.Settle());  // the hash is recomputed from the file
  ASSERT_TRUE(uploads_->Append(**again, "part two").ok());
  ASSERT_TRUE(uploads_->Commit(*again, DigestOf("part one, part two")).ok());
}

TEST_F(StorageTest, ExpireRemovesIdleUploads) {
  auto u = uploads_->Start("r");
  uploads_->Release(*u);
  EXPECT_EQ(uploads_->Expire(60 * 1000), 0u);
  EXPECT_EQ(uploads_->Expire(-1), 1u);
  EXPECT_FALSE(std::filesystem::exists((*u)->path));
  EXPECT_FALSE(meta_->GetUpload((*u)->uuid).ok());
}

TEST_F(StorageTest, OrphansAreCleanedAtStart) {
  // A file without a record (e.g. a crash between create and record).
  std::string orphan = blobs_->uploads_dir() + "/orphan";
  FILE* f = fopen(orphan.c_str(), "w");
  fputs("x", f);
  fclose(f);
  // A record without a file.
  ASSERT_TRUE(meta_->PutUpload("ghost", UploadRecord{"r", 1}).ok());
  std::string tmp = blobs_->tmp_dir() + "/partial";
  f = fopen(tmp.c_str(), "w");
  fclose(f);
  ASSERT_TRUE(blobs_->Init().ok());
  Reopen();
  EXPECT_FALSE(std::filesystem::exists(orphan));
  EXPECT_FALSE(std::filesystem::exists(tmp));
  EXPECT_FALSE(meta_->GetUpload("ghost").ok());
}

size_t FilesIn(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

TEST_F(StorageTest, TempFilesComeFromTheSparesThenAreMadeOnDemand) {
  blobs_->KeepSpares(2);
  EXPECT_EQ(FilesIn(blobs_->tmp_dir()), 2u);
  blobs_->KeepSpares(2);  // already there: none more
  EXPECT_EQ(FilesIn(blobs_->tmp_dir()), 2u);
  std::vector<TempFile> taken;
  for (int i = 0; i < 3; ++i) {  // two spares, then one made on the spot
    auto t = blobs_->NewTempFile();
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    struct stat st;
    ASSERT_EQ(fstat(t->fd, &st), 0);
    EXPECT_EQ(st.st_size, 0);
    EXPECT_EQ(t->path.rfind(blobs_->tmp_dir() + "/", 0), 0u);
    for (const TempFile& other : taken) EXPECT_NE(other.path, t->path);
    taken.push_back(std::move(*t));
  }
  EXPECT_EQ(FilesIn(blobs_->tmp_dir()), 3u);
  // A taken file becomes a blob like any other.
  ASSERT_EQ(write(taken[0].fd, "abc", 3), 3);
  auto d = Digest::Parse("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(blobs_->Commit(taken[0].fd, taken[0].path, *d).ok());
  auto content = blobs_->ReadAll(*d);
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(*content, "abc");
  for (TempFile& t : taken) {
    close(t.fd);
    unlink(t.path.c_str());
  }
  // Spares left at the end are removed with the store.
  blobs_->KeepSpares(3);
  EXPECT_EQ(FilesIn(blobs_->tmp_dir()), 3u);
  blobs_.reset();
  EXPECT_EQ(FilesIn(root_ + "/tmp"), 0u);
}

// Another store's file becomes a blob: linked on one filesystem, copied from
// another (/dev/shm is tmpfs), and only when it hashes to the digest.
TEST_F(StorageTest, AdoptLinksOrCopiesVerifiedFilesOnly) {
  const std::string content(300000, 'x');
  const Digest d = DigestOf(content);
  auto write = [&](const std::string& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    ::close(fd);
  };
  auto ino = [](const std::string& path) {
    struct stat st{};
    return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
  };
  auto tmp_empty = [&] { return std::filesystem::is_empty(blobs_->tmp_dir()); };

  const std::string other = root_ + "/other-store-data";
  write(other);
  auto wrong = blobs_->Adopt(other, DigestOf("something else"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), Code::kInvalid);
  EXPECT_NE(wrong.status().message().find(d.str()), std::string::npos) << wrong.status().message();
  EXPECT_FALSE(blobs_->Exists(DigestOf("something else")));
  EXPECT_TRUE(tmp_empty());
  EXPECT_EQ(blobs_->Adopt(root_ + "/none", d).status().code(), Code::kNotFound);

  auto linked = blobs_->Adopt(other, d);
  ASSERT_TRUE(linked.ok()) << linked.status().ToString();
  EXPECT_EQ(*linked, content.size());
  EXPECT_EQ(ino(blobs_->PathFor(d)), ino(other));
  EXPECT_EQ(*blobs_->ReadAll(d), content);
  EXPECT_TRUE(tmp_empty());

  if (!std::filesystem::is_directory("/dev/shm")) GTEST_SKIP() << "no /dev/shm for another filesystem";
  ASSERT_TRUE(blobs_->Remove(d).ok());
  const std::string far = "/dev/shm/wharf-adopt-" + std::to_string(::getpid());
  write(far);
  auto copied = blobs_->Adopt(far, d);
  ::unlink(far.c_str());
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  EXPECT_NE(ino(blobs_->PathFor(d)), 0u);
  EXPECT_EQ(*blobs_->ReadAll(d), content);
  EXPECT_TRUE(tmp_empty());
}

TEST_F(StorageTest, ManifestDeleteRemovesTagsAndReferrer) {
  const std::string d = "sha256:" + std::string(64, 'b');
  const std::string subj = "sha256:" + std::string(64, 'c');
  ManifestWrite w{"r", d, ManifestRecord{"a/b", 3, subj, "x/y", 0}, std::string("t1"), "{}"};
  ASSERT_TRUE(meta_->PutManifest(w).ok());
  w.tag = "t2";
  ASSERT_TRUE(meta_->PutManifest(w).ok());
  std::vector<std::string> refs;
  ASSERT_TRUE(meta_->ListReferrers("r", subj, &refs).ok());
  EXPECT_EQ(refs.size(), 1u);
  ASSERT_TRUE(meta_->DeleteManifest("r", d).ok());
  EXPECT_FALSE(meta_->GetTag("r", "t1").ok());
  EXPECT_FALSE(meta_->GetTag("r", "t2").ok());
  refs.clear();
  ASSERT_TRUE(meta_->ListReferrers("r", subj, &refs).ok());
  EXPECT_TRUE(refs.empty());
}

// An immutable tag: written again at its digest, never moved; the check
// and the write are one step, so of concurrent pushes of one new tag at
// different manifests exactly one lands. A delete by digest that would take
// it is refused whole.
TEST_F(StorageTest, FixedTagsNeverMoveOrGo) {
  auto digest = [](char c) { return "sha256:" + std::string(64, c); };
  ManifestWrite w{"r", digest('a'), ManifestRecord{"a/b", 3, "", "", 0}, std::string("v1"), "", Origin::kPushed, true};
  ASSERT_TRUE(meta_->PutManifest(w).ok());
  ASSERT_TRUE(meta_->PutManifest(w).ok());  // a retried push
  w.digest = digest('b');
  Status st = meta_->PutManifest(w);
  EXPECT_EQ(st.code(), Code::kExists);
  EXPECT_EQ(st.message(), digest('a'));
  EXPECT_FALSE(meta_->GetManifest("r", digest('b')).ok()) << "a refused write leaves nothing";
  EXPECT_EQ(meta_->GetTag("r", "v1")->digest, digest('a'));
  w.tag_fixed = false;  // a mutable tag moves
  w.tag = "latest";
  ASSERT_TRUE(meta_->PutManifest(w).ok());
  w.digest = digest('a');
  ASSERT_TRUE(meta_->PutManifest(w).ok());
  EXPECT_EQ(meta_->GetTag("r", "latest")->digest, digest('a'));

  auto fixed = [](const std::string& tag) { return tag == "v1"; };
  st = meta_->DeleteManifest("r", digest('a'), fixed);
  EXPECT_EQ(st.code(), Code::kDenied);
  EXPECT_EQ(st.message(), "v1");
  EXPECT_TRUE(meta_->GetManifest("r", digest('a')).ok());
  EXPECT_EQ(meta_->GetTag("r", "latest")->digest, digest('a')) << "nothing removed";
  ASSERT_TRUE(meta_->DeleteManifest("r", digest('b'), fixed).ok());  // no fixed tag on it

  std::vector<std::thread> pushers;
  std::atomic<int> landed{0}, refused{0};
  for (char c = 'c'; c < 'k'; ++c)
    pushers.emplace_back([&, c] {
      ManifestWrite mine{"r", digest(c), ManifestRecord{"a/b", 3, "", "", 0}, std::string("v2"), "",
                         Origin::kPushed, true};
      Status s = meta_->PutManifest(mine);
      (s.ok() ? landed : refused) += s.ok() || s.code() == Code::kExists;
    });
  for (auto& t : pushers) t.join();
  EXPECT_EQ(landed.load(), 1);
  EXPECT_EQ(refused.load(), 7);
}

// The metadata carries its format: a new store is marked, reopening it
// works, and data that a newer Wharf marked is refused untouched (a
// downgrade must not misread it), as is a mark this one does not know.
TEST_F(StorageTest, MetadataOfALaterFormatIsRefused) {
  Reopen();
  meta_.reset();
  // Sets the mark straight in RocksDB; returns the one it replaced.
  auto mark = [&](const std::string& v) -> std::string {
    rocksdb::DB* db = nullptr;
    if (!rocksdb::DB::Open(rocksdb::Options(), root_ + "/meta", &db).ok()) return "(cannot open)";
    std::string was;
    EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), std::string("v\0", 2), &was).ok());
    EXPECT_TRUE(db->Put(rocksdb::WriteOptions(), std::string("v\0", 2), v).ok());
    delete db;
    return was;
  };
  EXPECT_EQ(mark("2"), std::to_string(MetaStore::kFormat));
  auto m = MetaStore::Open(root_ + "/meta");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Code::kUnsupported);
  EXPECT_NE(m.status().message().find("is of format 2, which a newer Wharf wrote; this one reads format 1"),
            std::string::npos) << m.status().message();
  EXPECT_EQ(mark("x"), "2");  // refused untouched
  m = MetaStore::Open(root_ + "/meta");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("unknown format mark 'x'"), std::string::npos) << m.status().message();
  mark("1");
  Reopen();
}

// The evictor's clock: last pulls survive a reopen, a later record replaces
// an earlier one, and forgetting a blob forgets its record, so that a blob
// cached again later does not inherit it.
TEST_F(StorageTest, AccessTimesSurviveReopenAndLeaveWithTheirBlob) {
  const std::string a = "sha256:" + std::string(64, 'a');
  const std::string b = "sha256:" + std::string(64, 'b');
  ASSERT_TRUE(meta_->CommitBlob("~docker.io/x", a, 10, Origin::kCached, "").ok());
  ASSERT_TRUE(meta_->CommitBlob("~docker.io/x", b, 20, Origin::kCached, "").ok());
  ASSERT_TRUE(meta_->RecordAccess({{b, 2000}, {a, 1000}}).ok());
  ASSERT_TRUE(meta_->RecordAccess({{a, 3000}}).ok());
  Reopen();
  std::vector<std::pair<std::string, int64_t>> seen;
  auto read = [&] {
    seen.clear();
    return meta_->ForEachAccess([&](const std::string& d, int64_t ms) { seen.emplace_back(d, ms); });
  };
  ASSERT_TRUE(read().ok());
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, int64_t>>{{a, 3000}, {b, 2000}}));
  ASSERT_TRUE(meta_->ForgetBlobs({a}).ok());
  ASSERT_TRUE(read().ok());
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, int64_t>>{{b, 2000}}));
  EXPECT_FALSE(meta_->GetBlob(a).ok());
  ASSERT_TRUE(meta_->ForgetAccess({b}).ok());
  ASSERT_TRUE(read().ok());
  EXPECT_TRUE(seen.empty());
  EXPECT_TRUE(meta_->GetBlob(b).ok());  // the record only
}

// The verdict turns after `threshold` failed probes in a row (here tmp/ is
// gone, so the probe file cannot be made) and back after one good probe.
TEST_F(StorageTest, HealthVerdictFollowsTheProbesAndItsThreshold) {
  ASSERT_TRUE(meta_->Probe(1).ok());
  const std::string tmp = root_ + "/tmp";
  registry::StorageHealth health(tmp, meta_.get(), {/*interval_ms=*/20, /*threshold=*/3});
  auto settle = [&](bool healthy) {
    for (int i = 0; i < 1000 && health.Verdict().healthy != healthy; ++i) usleep(5000);
    return health.Verdict();
  };
  auto failures = [&] {
    std::string m = health.RenderMetrics();
    const std::string key = "\nwharf_storage_health_probe_failures_total ";
    return std::stoull(m.substr(m.find(key) + key.size()));
  };
  EXPECT_TRUE(settle(true).healthy);
  EXPECT_EQ(failures(), 0u);
  std::filesystem::rename(tmp, root_ + "/elsewhere");
  auto v = settle(false);
  ASSERT_FALSE(v.healthy);
  EXPECT_NE(v.reason.find(".health-probe: No such file or directory"), std::string::npos) << v.reason;
  EXPECT_GE(failures(), 3u);
  EXPECT_NE(health.RenderMetrics().find("wharf_storage_healthy 0\n"), std::string::npos);
  std::filesystem::rename(root_ + "/elsewhere", tmp);
  EXPECT_TRUE(settle(true).healthy);
  EXPECT_NE(health.RenderMetrics().find("wharf_storage_healthy 1\n"), std::string::npos);
}

}  // namespace
}  // namespace wharf::storage
