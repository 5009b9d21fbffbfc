// TrailingHash: the digest of a file written piece by piece, hashed inline or
// read back by pool threads, against a one-shot digest of the same bytes.
#include "storage/trailing_hash.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>

namespace wharf::storage {
namespace {

// An unlinked temporary file, closed with the object.
class TempFile {
 public:
  TempFile() {
    char tmpl[] = "/tmp/wharf-trailing-XXXXXX";
    fd_ = mkstemp(tmpl);
    EXPECT_GE(fd_, 0);
    unlink(tmpl);
  }
  ~TempFile() { close(fd_); }
  int fd() const { return fd_; }

 private:
  int fd_;
};

// 8 MiB of varied bytes, so that a piece hashed twice or out of order changes
// the digest.
std::string Content() {
  std::string s(8 << 20, '\0');
  uint32_t x = 2463534242u;
  for (char& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

// Writes `content` to a fresh file in pieces of 1..256 KiB (varying, so that
// pool threads are sometimes behind and sometimes not) and returns the digest
// TrailingHash computed, or an empty digest when Settle() said it cannot.
Digest WriteInPieces(HashPool* pool, const std::string& content,
                     DigestAlgo algo = DigestAlgo::kSha256) {
  TempFile f;
  TrailingHash h(pool, algo);
  size_t off = 0, step = 1;
  while (off < content.size()) {
    size_t n = std::min(content.size() - off, step);
    EXPECT_EQ(pwrite(f.fd(), content.data() + off, n, static_cast<off_t>(off)), static_cast<ssize_t>(n));
    h.Wrote(f.fd(), std::string_view(content).substr(off, n));
    off += n;
    step = step * 7 % (256 << 10) + 1;
  }
  if (!h.Settle()) return Digest{};
  return h.Final();
}

TEST(TrailingHash, InlineAndPooledGiveTheOneShotDigest) {
  const std::string content = Content();
  const Digest want = DigestOf(content);
  HashPool none(0), one(1), two(2);
  EXPECT_EQ(WriteInPieces(&none, content), want);
  EXPECT_EQ(WriteInPieces(nullptr, content), want);
  EXPECT_EQ(WriteInPieces(&one, content), want);
  EXPECT_EQ(WriteInPieces(&two, content), want);
  EXPECT_EQ(WriteInPieces(&one, content, DigestAlgo::kSha512), DigestOf(content, DigestAlgo::kSha512));
}

TEST(TrailingHash, WritersSharingOneThreadFallBackToInline) {
  const std::string content = Content();
  const Digest want = DigestOf(content);
  HashPool one(1);
  Digest got[4];
  std::thread writers[4];
  for (int i = 0; i < 4; ++i) writers[i] = std::thread([&, i] { got[i] = WriteInPieces(&one, content); });
  for (auto& t : writers) t.join();
  for (const Digest& d : got) EXPECT_EQ(d, want);
}

TEST(TrailingHash, FinalEmptiesItForTheNextFile) {
  HashPool one(1);
  TempFile f;
  TrailingHash h(&one);
  ASSERT_EQ(pwrite(f.fd(), "abc", 3, 0), 3);
  h.Wrote(f.fd(), "abc");
  ASSERT_TRUE(h.Settle());
  EXPECT_EQ(h.Final(), DigestOf("abc"));
  ASSERT_TRUE(h.Settle());
  EXPECT_EQ(h.Final(), DigestOf(""));
}

TEST(TrailingHash, BytesMissingFromTheFileMakeItUnusable) {
  // The pool thread (idle, so it takes the first piece) reads back nothing
  // where the bytes should be.
  HashPool one(1);
  TempFile f;
  TrailingHash h(&one);
  h.Wrote(f.fd(), "never written");
  EXPECT_FALSE(h.Settle());
}

TEST(TrailingHash, StopMakesItUnusableAndIgnoresLaterWrites) {
  HashPool one(1);
  TempFile f;
  TrailingHash h(&one);
  const std::string content = Content();
  ASSERT_EQ(pwrite(f.fd(), content.data(), content.size(), 0), static_cast<ssize_t>(content.size()));
  h.Wrote(f.fd(), content);
  h.Stop();  // returns once the pool thread has let go, whether or not it finished
  h.Wrote(f.fd(), "more");
  EXPECT_FALSE(h.Settle());
}

TEST(HashPool, DefaultLeavesOneCpuToTheLoop) {
  cpu_set_t set;
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_EQ(HashPool::DefaultThreads(), static_cast<unsigned>(CPU_COUNT(&set) - 1));
}

}  // namespace
}  // namespace wharf::storage
