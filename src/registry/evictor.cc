#include "registry/evictor.h"

#include <algorithm>
#include <set>
#include <shared_mutex>
#include <vector>

#include "registry/services.h"
#include "util/log.h"

namespace wharf::registry {
namespace {

// Longer is "never" for any store, and keeps the milliseconds in range.
constexpr uint64_t kMaxIdleSeconds = uint64_t{100} * 365 * 86400;

}  // namespace

Evictor::Evictor(Services* s, uint64_t cap_bytes, uint64_t max_idle_seconds, uint64_t cached_bytes,
                 proxy::ProxyMetrics* metrics)
    : s_(s),
      cap_(cap_bytes),
      max_idle_ms_(static_cast<int64_t>(std::min(max_idle_seconds, kMaxIdleSeconds)) * 1000),
      metrics_(metrics),
      total_(cached_bytes) {}

void Evictor::Touch(const std::string& digest) {
  // Kept without a cap too: a full disk evicts in the same order (MakeRoom).
  std::lock_guard<std::mutex> lock(mu_);
  unsaved_ms_[digest] = storage::NowMs();
}

void Evictor::Added(uint64_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  total_ += size;
}

void Evictor::Persist() {
  // Shared with manifest PUTs, exclusive to eviction and gc: a record written
  // after they forgot its blob would outlive it.
  std::shared_lock<std::shared_mutex> gc(s_->gc_lock);
  std::vector<std::pair<std::string, int64_t>> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.assign(unsaved_ms_.begin(), unsaved_ms_.end());
  }
  if (batch.empty()) return;
  Status st = s_->meta->RecordAccess(batch);
  if (!st.ok()) {
    WLOG_WARN("recording when cached content was pulled: %s", st.ToString().c_str());
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [digest, ms] : batch) {
    auto it = unsaved_ms_.find(digest);
    if (it != unsaved_ms_.end() && it->second == ms) unsaved_ms_.erase(it);  // else pulled again since
  }
}

void Evictor::ExpireIdle() {
  if (!max_idle_ms_) return;
  const int64_t now = storage::NowMs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (now < next_expiry_ms_) return;
    next_expiry_ms_ = now + std::clamp<int64_t>(max_idle_ms_ / 10, 30'000, 3'600'000);
  }
  const int64_t cutoff = now - max_idle_ms_;
  EvictUntil([&](uint64_t, uint64_t, int64_t next) { return next >= cutoff; },
             "not pulled for " + std::to_string(max_idle_ms_ / 1000) + " s (proxy.cache_max_idle)",
             metrics_->expired, metrics_->expired_bytes);
}

uint64_t Evictor::cached_bytes() {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

void Evictor::MaybeEvict() {
  if (!cap_ || cached_bytes() <= cap_) return;
  const uint64_t target = cap_ / 10 * 9;
  EvictUntil([&](uint64_t cached, uint64_t freed, int64_t) { return cached - freed <= target; },
             "cap " + std::to_string(cap_), metrics_->evictions, metrics_->evicted_bytes);
}

bool Evictor::CouldMakeRoom(uint64_t bytes) { return s_->blobs->Shortfall(bytes) <= cached_bytes(); }

bool Evictor::MakeRoom(uint64_t bytes) {
  const uint64_t need = s_->blobs->Shortfall(bytes);
  if (need == 0) return true;
  // Emptying the cache in vain would only cost the next pulls.
  if (cached_bytes() < need) return false;
  EvictUntil([&](uint64_t, uint64_t freed, int64_t) { return freed >= need; },
             "the disk had no room for " + std::to_string(bytes) + " bytes", metrics_->evictions,
             metrics_->evicted_bytes);
  return s_->blobs->HasRoomFor(bytes);
}

void Evictor::EvictUntil(const std::function<bool(uint64_t cached, uint64_t freed, int64_t next)>& enough,
                         const std::string& why, std::atomic<uint64_t>& count,
                         std::atomic<uint64_t>& bytes) {
  std::unique_lock<std::shared_mutex> gc(s_->gc_lock);
  struct Candidate {
    std::string digest;
    uint64_t size;
    int64_t used_ms;
  };
  std::vector<Candidate> cands;  // in digest order, as both scans return them
  uint64_t total = 0;
  Status st = s_->meta->ForEachBlob([&](const std::string& d, const storage::BlobRecord& r) {
    if (r.origin != storage::Origin::kCached) return;
    total += r.size;
    cands.push_back(Candidate{d, r.size, r.created_ms});
  });
  size_t at = 0;  // a merge of the two scans: no map of every digest
  // Records of blobs no longer cached: pushed since, or removed by a gc or a
  // quarantine while their last pull waited to be written.
  std::vector<std::string> strays;
  if (st.ok())
    st = s_->meta->ForEachAccess([&](const std::string& d, int64_t ms) {
      while (at < cands.size() && cands[at].digest < d) ++at;
      if (at < cands.size() && cands[at].digest == d) cands[at].used_ms = std::max(cands[at].used_ms, ms);
      else strays.push_back(d);
    });
  if (st.ok()) st = s_->meta->ForgetAccess(strays);
  if (!st.ok()) {
    WLOG_ERROR("eviction: %s", st.ToString().c_str());
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    // What is cached may have shrunk without us (gc removes cached blobs no
    // manifest references): the scan's figure is the true one, and with a
    // stale one every MaybeEvict() would scan all records again.
    total_ = total;
    if (!unsaved_ms_.empty())
      for (Candidate& c : cands) {
        auto it = unsaved_ms_.find(c.digest);
        if (it != unsaved_ms_.end()) c.used_ms = std::max(c.used_ms, it->second);
      }
  }
  std::sort(cands.begin(), cands.end(),
            [](const Candidate& a, const Candidate& b) { return a.used_ms < b.used_ms; });
  std::set<std::string> doomed;
  uint64_t freed = 0;
  for (const Candidate& c : cands) {
    if (enough(total, freed, c.used_ms)) break;
    doomed.insert(c.digest);
    freed += c.size;
  }
  if (doomed.empty()) return;
  std::vector<std::pair<std::string, std::string>> manifests;  // (proxy repo, digest)
  st = s_->meta->ForEachManifest(
      [&](const std::string& repo, const std::string& digest, const storage::ManifestRecord&) {
        if (storage::IsCachedRepo(repo) && doomed.count(digest)) manifests.emplace_back(repo, digest);
      });
  if (!st.ok()) {
    WLOG_ERROR("eviction: %s", st.ToString().c_str());
    return;
  }
  // Records first: a crash in between leaves files without records, which gc removes.
  for (const auto& [repo, digest] : manifests) {
    st = s_->meta->DeleteManifest(repo, digest);
    if (!st.ok()) WLOG_WARN("eviction: manifest %s: %s", digest.c_str(), st.message().c_str());
  }
  st = s_->meta->ForgetBlobs(doomed);
  if (!st.ok()) {
    WLOG_ERROR("eviction: %s", st.ToString().c_str());
    return;
  }
  for (const std::string& d : doomed) (void)s_->blobs->Remove(*Digest::Parse(d));
  proxy::ProxyMetrics::Add(count, doomed.size());
  proxy::ProxyMetrics::Add(bytes, freed);
  {
    std::lock_guard<std::mutex> lock(mu_);
    total_ = total - freed;
    for (const std::string& d : doomed) unsaved_ms_.erase(d);
  }
  WLOG_INFO("eviction: removed %zu cached blobs (%llu bytes); %llu bytes cached; %s", doomed.size(),
            static_cast<unsigned long long>(freed), static_cast<unsigned long long>(total - freed),
            why.c_str());
}

}  // namespace wharf::registry
