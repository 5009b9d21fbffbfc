#include "registry/evictor.h"

#include <algorithm>
#include <set>
#include <shared_mutex>
#include <vector>

#include "registry/services.h"
#include "util/log.h"

namespace wharf::registry {

Evictor::Evictor(Services* s, uint64_t cap_bytes, uint64_t cached_bytes, proxy::ProxyMetrics* metrics)
    : s_(s), cap_(cap_bytes), metrics_(metrics), total_(cached_bytes) {}

void Evictor::Touch(const std::string& digest) {
  // Kept without a cap too: a full disk evicts in the same order (MakeRoom).
  std::lock_guard<std::mutex> lock(mu_);
  last_access_ms_[digest] = storage::NowMs();
}

void Evictor::Added(const std::string& digest, uint64_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  total_ += size;
  last_access_ms_[digest] = storage::NowMs();
}

uint64_t Evictor::cached_bytes() {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

void Evictor::MaybeEvict() {
  if (!cap_ || cached_bytes() <= cap_) return;
  const uint64_t target = cap_ / 10 * 9;
  EvictUntil([&](uint64_t cached, uint64_t freed) { return cached - freed <= target; },
             "cap " + std::to_string(cap_));
}

bool Evictor::CouldMakeRoom(uint64_t bytes) { return s_->blobs->Shortfall(bytes) <= cached_bytes(); }

bool Evictor::MakeRoom(uint64_t bytes) {
  const uint64_t need = s_->blobs->Shortfall(bytes);
  if (need == 0) return true;
  // Emptying the cache in vain would only cost the next pulls.
  if (cached_bytes() < need) return false;
  EvictUntil([&](uint64_t, uint64_t freed) { return freed >= need; },
             "the disk had no room for " + std::to_string(bytes) + " bytes");
  return s_->blobs->HasRoomFor(bytes);
}

void Evictor::EvictUntil(const std::function<bool(uint64_t cached, uint64_t freed)>& enough,
                         const std::string& why) {
  std::unique_lock<std::shared_mutex> gc(s_->gc_lock);
  std::vector<std::pair<std::string, std::string>> manifests;  // (proxy repo, digest)
  Status st = s_->meta->ForEachManifest(
      [&](const std::string& repo, const std::string& digest, const storage::ManifestRecord&) {
        if (storage::IsCachedRepo(repo)) manifests.emplace_back(repo, digest);
      });
  struct Candidate {
    std::string digest;
    uint64_t size;
    int64_t used_ms;
  };
  std::vector<Candidate> cands;
  uint64_t total = 0;
  if (st.ok())
    st = s_->meta->ForEachBlob([&](const std::string& d, const storage::BlobRecord& r) {
      if (r.origin != storage::Origin::kCached) return;
      total += r.size;
      cands.push_back(Candidate{d, r.size, r.created_ms});
    });
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
    for (Candidate& c : cands) {
      auto it = last_access_ms_.find(c.digest);
      if (it != last_access_ms_.end()) c.used_ms = std::max(c.used_ms, it->second);
    }
  }
  std::sort(cands.begin(), cands.end(),
            [](const Candidate& a, const Candidate& b) { return a.used_ms < b.used_ms; });
  std::set<std::string> doomed;
  uint64_t freed = 0;
  for (const Candidate& c : cands) {
    if (enough(total, freed)) break;
    doomed.insert(c.digest);
    freed += c.size;
  }
  if (doomed.empty()) return;
  // Records first: a crash in between leaves files without records, which gc removes.
  for (const auto& [repo, digest] : manifests) {
    if (!doomed.count(digest)) continue;
    st = s_->meta->DeleteManifest(repo, digest);
    if (!st.ok()) WLOG_WARN("eviction: manifest %s: %s", digest.c_str(), st.message().c_str());
  }
  st = s_->meta->ForgetBlobs(doomed);
  if (!st.ok()) {
    WLOG_ERROR("eviction: %s", st.ToString().c_str());
    return;
  }
  for (const std::string& d : doomed) (void)s_->blobs->Remove(*Digest::Parse(d));
  proxy::ProxyMetrics::Add(metrics_->evictions, doomed.size());
  proxy::ProxyMetrics::Add(metrics_->evicted_bytes, freed);
  {
    std::lock_guard<std::mutex> lock(mu_);
    total_ = total - freed;
    for (const std::string& d : doomed) last_access_ms_.erase(d);
  }
  WLOG_INFO("eviction: removed %zu cached blobs (%llu bytes); %llu bytes cached; %s", doomed.size(),
            static_cast<unsigned long long>(freed), static_cast<unsigned long long>(total - freed),
            why.c_str());
}

}  // namespace wharf::registry
