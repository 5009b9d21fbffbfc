// TrailingHash: the digest of a file that one writer appends to, kept up to
// date as the writer goes, either inline (the writer's thread hashes the
// bytes it just wrote) or, when a core is free, on a HashPool thread that
// reads the new bytes back from the file (the page cache: they were just
// written) while the writer receives the next ones.
//
// Why: a push on one core is about half hashing and half receiving and
// writing (bench/RESULTS.md). On a host with a spare core the two halves can
// overlap; on one core a second thread would only add switches, so a pool of
// zero threads keeps everything inline.
//
// Bytes are hashed in file order: while a pool thread is behind, new writes
// only move the end it must reach; once it has caught up, the writer hashes
// inline again until it next finds an idle thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "util/digest.h"
#include "util/status.h"

namespace wharf::storage {

class TrailingHash;

// Threads that hash on behalf of writers. Thread-safe.
class HashPool {
 public:
  // `threads` == 0: every TrailingHash using this pool hashes inline.
  explicit HashPool(unsigned threads);
  // Joins the threads. REQUIRES: no TrailingHash using the pool is alive.
  ~HashPool();
  HashPool(const HashPool&) = delete;
  HashPool& operator=(const HashPool&) = delete;

  // One thread for each CPU this process may run on, less the one the event
  // loop needs: none when pinned to a single CPU.
  static unsigned DefaultThreads();

 private:
  friend class TrailingHash;
  // Hands `h` to an idle thread, which calls h->CatchUp(). False (and
  // nothing queued) when every thread is busy.
  bool TryRun(TrailingHash* h);
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<TrailingHash*> queue_;
  unsigned idle_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// Thread-safety: Wrote(), Settle(), Final(), Finish() and Stop() are called by the
// file's one writer at a time (an upload's owning request); the pool thread
// synchronises with them internally.
class TrailingHash {
 public:
  // `pool` may be null (inline only); it must outlive this object.
  explicit TrailingHash(HashPool* pool, DigestAlgo algo = DigestAlgo::kSha256);
  // Stops a pool thread that is still behind (see Stop()).
  ~TrailingHash();
  TrailingHash(const TrailingHash&) = delete;
  TrailingHash& operator=(const TrailingHash&) = delete;

  // `data` has just been written to `fd` right after everything passed
  // before. `fd` must stay open, with those bytes in place, until Settle()
  // or Stop() returns.
  void Wrote(int fd, std::string_view data);
  // Waits until every byte passed to Wrote() is hashed. False when a pool
  // thread could not read them back (or Stop() was called): the hash is then
  // unusable, and the file must be hashed itself (Finish() does).
  bool Settle();
  // The digest of everything written (REQUIRES: Settle() returned true);
  // afterwards the object is empty again.
  Digest Final();
  // The digest in `algo` of the file `fd` that Wrote() was told about: the
  // running hash when it is usable and in that algorithm (Final()), else the
  // file hashed here from its start. Afterwards the hash is unusable, so a
  // second call hashes the file.
  Result<Digest> Finish(int fd, DigestAlgo algo);
  // Makes a pool thread that is behind give up (after at most one read) and
  // waits for it; the hash is unusable afterwards (Wrote() then ignores
  // bytes). Call before the file is closed or cut back, or when the bytes
  // before the first Wrote() are unknown (an upload resumed after a restart).
  void Stop();

 private:
  friend class HashPool;
  // On a pool thread: hashes [hashed_, written_) from fd_ until caught up,
  // using `buf` (`len` bytes) for the reads.
  void CatchUp(char* buf, size_t len);

  HashPool* pool_;
  Hasher hasher_;
  std::mutex mu_;
  std::condition_variable settled_;
  int fd_ = -1;
  uint64_t written_ = 0;  // bytes passed to Wrote()
  uint64_t hashed_ = 0;   // bytes passed to hasher_
  bool behind_ = false;   // a pool thread owns hasher_ until it catches up
  bool broken_ = false;   // a read-back failed, or Stop() was called
};

}  // namespace wharf::storage
