#include "proxy/blob_fetcher.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "storage/sequential_write.h"
#include "util/log.h"

namespace wharf::proxy {
namespace {

// How long a fill waits for the first client's head to go out (see
// BlobFetch::AwaitFirstHead): a loop answers in microseconds unless it is
// busy, and then the fill should not wait for it.
constexpr std::chrono::microseconds kHeadHandOver{1000};
// Bytes of a fill written before its clients get their heads.
constexpr size_t kFirstPiece = 64 << 10;
// Cache files kept ready (BlobStore::KeepSpares): docker and containerd pull
// three layers at a time, plus the config.
constexpr size_t kSpareFiles = 4;

}  // namespace

void BlobFetch::WhenReady(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ == State::kWaiting) {
      waiters_.push_back(std::move(fn));
      return;
    }
  }
  fn();
}

BlobFetch::State BlobFetch::state() {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

std::shared_ptr<http::GrowingFile> BlobFetch::file() {
  std::lock_guard<std::mutex> lock(mu_);
  return file_;
}

int BlobFetch::upstream_status() {
  std::lock_guard<std::mutex> lock(mu_);
  return upstream_status_;
}

std::string BlobFetch::error() {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

bool BlobFetch::storage_full() {
  std::lock_guard<std::mutex> lock(mu_);
  return storage_full_;
}

void BlobFetch::HeadSent() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    awaiting_head_ = false;
  }
  head_cv_.notify_all();
}

void BlobFetch::AwaitFirstHead(std::chrono::microseconds limit) {
  std::unique_lock<std::mutex> lock(mu_);
  head_cv_.wait_for(lock, limit, [this] { return !awaiting_head_; });
  awaiting_head_ = false;
}

void BlobFetch::Publish(State s, std::shared_ptr<http::GrowingFile> f, int status, std::string error,
                        bool storage_full) {
  std::vector<std::function<void()>> run;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ != State::kWaiting) return;
    state_ = s;
    file_ = std::move(f);
    upstream_status_ = status;
    error_ = std::move(error);
    storage_full_ = storage_full;
    awaiting_head_ = s == State::kStreaming && !waiters_.empty();
    run.swap(waiters_);
  }
  for (auto& fn : run) fn();
}

BlobFetcher::BlobFetcher(storage::BlobStore* blobs, storage::MetaStore* meta,
                         storage::HashPool* hashing, FetchPool* pool, ProxyMetrics* metrics,
                         std::function<void(const std::string&, uint64_t)> on_cached,
                         std::function<bool(uint64_t)> make_room)
    : blobs_(blobs),
      meta_(meta),
      hashing_(hashing),
      pool_(pool),
      metrics_(metrics),
      on_cached_(std::move(on_cached)),
      make_room_(std::move(make_room)) {
  blobs_->KeepSpares(kSpareFiles);  // the first miss finds one too
}

std::shared_ptr<BlobFetch> BlobFetcher::Get(Upstream* up, const std::string& repo,
                                            const std::string& store_repo, const Digest& d) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = inflight_.find(d.str());
  if (it != inflight_.end()) {
    ProxyMetrics::Add(metrics_->coalesced);
    return it->second;
  }
  ProxyMetrics::Add(metrics_->misses);
  auto f = std::make_shared<BlobFetch>();
  inflight_[d.str()] = f;
  pool_->Run(up->name(), [this, up, repo, store_repo, d, f] {
    Download(up, repo, store_repo, d, f);
    blobs_->KeepSpares(kSpareFiles);  // for the next miss, now that this one's clients are served
  });
  return f;
}

bool BlobFetcher::LinkExisting(Upstream* up, const std::string& repo, const std::string& store_repo,
                               const Digest& d, BlobFetch* f) {
  uint64_t size = 0;
  auto fd = blobs_->Open(d, &size);
  if (!fd.ok()) return false;
  // The bytes are here already; only confirm that this repository has them
  // upstream, so a private blob never becomes visible through the proxy.
  FetchOptions opt;
  ClientResponse resp;
  Status st = up->Fetch("HEAD", repo, "/v2/" + repo + "/blobs/" + d.str(), opt, &resp,
                        [](std::string_view) { return Status(); });
  if (!st.ok() || resp.status != 200) {
    ::close(*fd);
    f->Publish(BlobFetch::State::kFailed, nullptr, resp.status,
               st.ok() ? "upstream answered " + std::to_string(resp.status) : st.message());
    return true;
  }
  Status link = meta_->CommitBlob(store_repo, d.str(), size, storage::Origin::kCached, "");
  if (!link.ok()) WLOG_WARN("proxy: linking %s: %s", d.str().c_str(), link.message().c_str());
  auto file = std::make_shared<http::GrowingFile>(*fd, size);
  file->Advance(size);
  file->Finish(true);
  f->Publish(BlobFetch::State::kStreaming, file, 200, "");
  return true;
}

void BlobFetcher::Download(Upstream* up, std::string repo, std::string store_repo, Digest d,
                           std::shared_ptr<BlobFetch> f) {
  auto done = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    inflight_.erase(d.str());
  };
  if (LinkExisting(up, repo, store_repo, d, f.get())) {
    done();
    return;
  }
  std::string tmp;
  int wfd = -1;  // the cache file, written here
  int rfd = -1;  // the same file for the readers (GrowingFile owns it once made)
  // The cache file is taken once the request is on its way: usually a spare
  // (BlobStore::KeepSpares), but when none is left making one takes longer
  // than sending a request, and the upstream works meanwhile.
  auto create = [&]() -> Status {
    if (wfd >= 0) return Status();
    auto made = blobs_->NewTempFile();
    if (!made.ok()) return made.status();
    rfd = ::dup(made->fd);
    if (rfd < 0) {
      // Undone, so that a second call does not take a half-made file for done.
      Status st = Status::FromErrno(errno, "create the cache file");
      ::close(made->fd);
      ::unlink(made->path.c_str());
      return st;
    }
    wfd = made->fd;
    tmp = std::move(made->path);
    return Status();
  };
  std::shared_ptr<http::GrowingFile> file;
  storage::TrailingHash hash(hashing_, d.algo);
  storage::SequentialWrite writing;
  uint64_t written = 0;
  ClientResponse resp;
  FetchOptions opt;
  opt.on_sent = [&] { (void)create(); };  // a failure shows at the first byte
  auto make_file = [&](uint64_t length) {
    file = std::make_shared<http::GrowingFile>(rfd, length);
    rfd = -1;
  };
  // Published once the first bytes are in the file, so that the clients'
  // heads go out with body bytes behind them, as from the upstream itself.
  bool published = false;
  auto publish = [&] {
    published = true;
    f->Publish(BlobFetch::State::kStreaming, file, resp.status, "");
    f->AwaitFirstHead(kHeadHandOver);
  };
  // Appends the next bytes of the body to the cache file.
  auto store = [&](std::string_view data) -> Status {
    if (file && written + data.size() > file->length())
      return Status(Code::kInvalid, "upstream sent more than Content-Length");
    Status room = writing.Before(wfd, written + data.size());
    // Out of disk mid-stream (other writers took it): evict cached content
    // for the rest rather than cut the client off.
    if (room.code() == Code::kNoSpace && file && make_room_(file->length() - written))
      room = writing.Before(wfd, written + data.size());
    WHARF_RETURN_IF_ERROR(room);
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::pwrite(wfd, data.data() + off, data.size() - off, static_cast<off_t>(written + off));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::FromErrno(errno, "write cache file");
      off += static_cast<size_t>(n);
    }
    hash.Wrote(wfd, data);
    written += data.size();
    writing.After(wfd, written);
    ProxyMetrics::Add(metrics_->upstream_bytes, data.size());
    if (file) file->Advance(written);
    return Status();
  };
  std::string mirror;
  Status st = up->Fetch("GET", repo, "/v2/" + repo + "/blobs/" + d.str(), opt, &resp,
                        [&](std::string_view data) -> Status {
                          if (!file && resp.has_length && data.size() == resp.content_length &&
                              !(DigestOf(data, d.algo) == d)) {
                            // The whole body in one piece (a small blob, or a
                            // dead mirror's web page), checked before any
                            // client's head goes out: wrong bytes go on to the
                            // next mirror instead of cutting the clients off.
                            return Status(Code::kInvalid, "does not match its digest");
                          }
                          WHARF_RETURN_IF_ERROR(create());
                          if (!file && resp.has_length) {
                            // Refuse before the first byte goes out, while the
                            // client can still get a clean error instead of a
                            // cut stream.
                            if (!blobs_->HasRoomFor(resp.content_length) && !make_room_(resp.content_length))
                              return Status(Code::kNoSpace, "no room to cache " +
                                                                std::to_string(resp.content_length) + " bytes");
                            make_file(resp.content_length);
                          }
                          if (file && !published) {
                            // The first read can hold a whole small blob: only
                            // a small piece is written before the clients'
                            // heads go out, and the reservation waits for the
                            // rest.
                            std::string_view first = data.substr(0, kFirstPiece);
                            writing.Aim(first.size(), file->length());
                            WHARF_RETURN_IF_ERROR(store(first));
                            publish();
                            data.remove_prefix(first.size());
                          }
                          return data.empty() ? Status() : store(data);
                        },
                        &mirror);
  bool ok = st.ok() && resp.status / 100 == 2;
  // No Content-Length (or no body at all): the file is published complete.
  if (ok && !file) {
    st = create();
    ok = st.ok();
    if (ok) make_file(written);
  }
  if (ok && !published) publish();
  if (ok && written != file->length()) {
    ok = false;
    st = Status(Code::kUnavailable, "upstream body shorter than Content-Length");
  }
  auto matches = [&] {
    auto got = hash.Finish(wfd, d.algo);
    return got.ok() && *got == d;
  };
  if (ok && !matches()) {
    WLOG_ERROR("proxy %s: %s from %s does not match its digest; discarded", up->name().c_str(),
               d.str().c_str(), mirror.c_str());
    up->MarkBad(mirror);
    ok = false;
    st = Status(Code::kInvalid, "digest mismatch");
  }
  if (!ok) {
    WLOG_WARN("proxy %s: fetching %s/%s failed: %s", up->name().c_str(), repo.c_str(),
              d.str().c_str(), st.ok() ? ("upstream answered " + std::to_string(resp.status)).c_str()
                                       : st.message().c_str());
    if (published) file->Finish(false);
    else f->Publish(BlobFetch::State::kFailed, nullptr, resp.status,
                    st.ok() ? "upstream answered " + std::to_string(resp.status) : st.message(),
                    st.code() == Code::kNoSpace);
    hash.Stop();  // before wfd closes: a pool thread may be reading it
    if (rfd >= 0) ::close(rfd);
    if (wfd >= 0) {
      ::close(wfd);
      ::unlink(tmp.c_str());
    }
    done();
    return;
  }
  file->Finish(true);  // verified: readers may complete while we make it durable
  Status c = blobs_->Commit(wfd, tmp, d);
  if (c.ok()) c = meta_->CommitBlob(store_repo, d.str(), written, storage::Origin::kCached, "");
  if (!c.ok()) {
    WLOG_ERROR("proxy: caching %s failed: %s", d.str().c_str(), c.message().c_str());
    ::unlink(tmp.c_str());
  }
  ::close(wfd);
  done();
  if (c.ok() && on_cached_) on_cached_(d.str(), written);
}

}  // namespace wharf::proxy
