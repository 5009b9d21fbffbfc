// ManifestCache: manifest bytes by digest, in memory, least recently used
// out first. Manifests are immutable under their digest, so a cached copy is
// never stale; the cache only saves the file read on the hot path.
//
// Thread-safety: all methods are thread-safe (one mutex; the critical
// sections are a hash lookup and a list splice).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace wharf::registry {

class ManifestCache {
 public:
  explicit ManifestCache(uint64_t max_bytes) : max_bytes_(max_bytes) {}
  ManifestCache(const ManifestCache&) = delete;
  ManifestCache& operator=(const ManifestCache&) = delete;

  // The cached bytes, or nullptr.
  std::shared_ptr<const std::string> Get(const std::string& digest);
  void Put(const std::string& digest, std::shared_ptr<const std::string> bytes);

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const std::string>>;
  uint64_t max_bytes_;
  uint64_t bytes_ = 0;
  std::mutex mu_;
  std::list<Entry> lru_;  // front = most recent
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace wharf::registry
