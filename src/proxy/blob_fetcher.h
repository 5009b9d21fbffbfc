// BlobFetcher: pull-through of blobs, one upstream download per digest.
//
// Get() joins the download of a digest that is already in flight, across
// every worker loop and repository, or starts one. The download writes to a
// temp file that is, at the same time, the body of every waiting response
// (an http::GrowingFile): clients get their headers as soon as the upstream
// answers and the bytes as they arrive; a late joiner reads what is on disk,
// then follows. The digest is computed as the bytes pass; on a mismatch the
// file is discarded and every reader's connection is cut, so bad data never
// completes and is never stored. A verified blob is committed (fsync, rename,
// metadata) as a cached blob linked into the requesting repository.
// If the blob is already on disk (another repository has it), the upstream
// is only asked (HEAD) whether this repository has it too, and nothing is
// downloaded.
//
// Thread-safety: thread-safe. Work runs on the FetchPool.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "http/growing_file.h"
#include "proxy/fetch_pool.h"
#include "proxy/proxy_metrics.h"
#include "proxy/upstream.h"
#include "storage/blob_store.h"
#include "storage/meta_store.h"
#include "storage/trailing_hash.h"
#include "util/digest.h"

namespace wharf::proxy {

class BlobFetch {
 public:
  enum class State { kWaiting, kStreaming, kFailed };
  // Runs `fn` once the upstream has answered (at once if it has). `fn` may
  // run on a fetch thread: it should only post work to a loop.
  void WhenReady(std::function<void()> fn);
  State state();
  std::shared_ptr<http::GrowingFile> file();
  int upstream_status();  // when failed: the upstream's status, or 0
  std::string error();
  // When failed: true if it was for lack of disk space (nothing was sent).
  bool storage_full();
  // Called on a loop once a response that waited for this fetch has its
  // head on the socket.
  void HeadSent();

 private:
  friend class BlobFetcher;
  void Publish(State s, std::shared_ptr<http::GrowingFile> f, int status, std::string error,
               bool storage_full = false);
  // On the fetch thread, right after publishing kStreaming: blocks until the
  // first waiting response has sent its head, or `limit` passed, or at once
  // if nobody waited. Why: a loop woken from another thread of the process
  // does not preempt the fetch thread on a shared core (measured: the client's
  // first byte waited 1-3 ms behind the fill's own reads and writes); sleeping
  // here hands the core to the loop for the few microseconds the head takes.
  void AwaitFirstHead(std::chrono::microseconds limit);
  std::mutex mu_;
  std::condition_variable head_cv_;
  bool awaiting_head_ = false;  // someone waited when the fetch was published
  State state_ = State::kWaiting;
  std::shared_ptr<http::GrowingFile> file_;
  int upstream_status_ = 0;
  std::string error_;
  bool storage_full_ = false;
  std::vector<std::function<void()>> waiters_;
};

class BlobFetcher {
 public:
  // `on_cached(digest, size)` runs on the fetch thread after a blob was
  // stored as a new cached blob. `make_room(bytes)` runs on the fetch thread
  // when a fill would not fit on the disk; true if it now fits. `hashing`
  // (null: none) hashes fills beside the fetch threads and must outlive the
  // fetcher. Keeps a few spare cache files in `blobs` (made here and after
  // each fill), so that a miss does not wait for a file to be created.
  BlobFetcher(storage::BlobStore* blobs, storage::MetaStore* meta, storage::HashPool* hashing,
              FetchPool* pool, ProxyMetrics* metrics,
              std::function<void(const std::string&, uint64_t)> on_cached,
              std::function<bool(uint64_t)> make_room);

  // `repo` is the name upstream; `store_repo` the internal repository the
  // cached blob is linked into.
  std::shared_ptr<BlobFetch> Get(Upstream* up, const std::string& repo,
                                 const std::string& store_repo, const Digest& d);

 private:
  void Download(Upstream* up, std::string repo, std::string store_repo, Digest d,
                std::shared_ptr<BlobFetch> f);
  bool LinkExisting(Upstream* up, const std::string& repo, const std::string& store_repo,
                    const Digest& d, BlobFetch* f);

  storage::BlobStore* blobs_;
  storage::MetaStore* meta_;
  storage::HashPool* hashing_;
  FetchPool* pool_;
  ProxyMetrics* metrics_;
  std::function<void(const std::string&, uint64_t)> on_cached_;
  std::function<bool(uint64_t)> make_room_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<BlobFetch>> inflight_;
};

}  // namespace wharf::proxy
