#include "registry/manifest_cache.h"

namespace wharf::registry {

std::shared_ptr<const std::string> ManifestCache::Get(const std::string& digest) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(digest);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void ManifestCache::Put(const std::string& digest, std::shared_ptr<const std::string> bytes) {
  if (bytes->size() > max_bytes_) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (index_.count(digest)) return;
  bytes_ += bytes->size();
  lru_.emplace_front(digest, std::move(bytes));
  index_[digest] = lru_.begin();
  while (bytes_ > max_bytes_ && !lru_.empty()) {
    bytes_ -= lru_.back().second->size();
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

}  // namespace wharf::registry
