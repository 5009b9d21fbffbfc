#include "registry/usage.h"

#include <algorithm>
#include <map>
#include <unordered_set>

#include "registry/quota.h"
#include "util/json_text.h"
#include "util/repo_prefix.h"

namespace wharf::registry {

std::string UsageReport::ToJson() const {
  nlohmann::json repos = nlohmann::json::array();
  for (const auto& r : repositories)
    repos.push_back({{"name", r.name}, {"bytes", r.bytes}, {"blobs", r.blobs}, {"manifests", r.manifests}});
  nlohmann::json q = nlohmann::json::array();
  for (const auto& u : quotas)
    q.push_back({{"prefix", u.prefix}, {"used_bytes", u.used_bytes}, {"max_bytes", u.max_bytes}});
  return JsonText(nlohmann::json{{"bytes", bytes}, {"repositories", repos}, {"quotas", q}});
}

Result<UsageReport> RunUsage(const storage::MetaStore& meta, const std::vector<QuotaRule>& quotas,
                             const std::string& asked, bool cached) {
  const std::string prefix = RepoPrefix(asked);
  // The cache keeps ~<registry>/<repository>.
  std::string scan(cached ? "~" : "");
  scan += prefix;
  struct Seen {
    RepoUsage usage;
    std::unordered_set<std::string> digests;
  };
  std::map<std::string, Seen, std::less<>> repos;
  std::unordered_set<std::string> all;
  UsageReport rep;
  Status st = meta.ForEachStoredUnder(
      scan, [&](std::string_view repo, std::string_view digest, uint64_t size, bool manifest) {
        if (storage::IsCachedRepo(repo) != cached) return;
        const std::string_view name = cached ? repo.substr(1) : repo;
        if (!InRepoPrefix(name, prefix)) return;
        auto it = repos.find(name);
        if (it == repos.end()) it = repos.emplace(std::string(name), Seen{}).first;
        Seen& s = it->second;
        if (!s.digests.emplace(digest).second) return;
        s.usage.bytes += size;
        ++(manifest ? s.usage.manifests : s.usage.blobs);
        if (all.emplace(digest).second) rep.bytes += size;
      });
  if (!st.ok()) return st;
  for (auto& [name, s] : repos) {
    s.usage.name = name;
    rep.repositories.push_back(std::move(s.usage));
  }
  std::stable_sort(rep.repositories.begin(), rep.repositories.end(),
                   [](const RepoUsage& a, const RepoUsage& b) { return a.bytes > b.bytes; });
  if (cached) return rep;  // no quota governs the cache
  for (const QuotaRule& q : quotas) {
    auto used = QuotaUsage(quotas, q, meta);
    if (!used.ok()) return used.status();
    rep.quotas.push_back({q.prefix, *used, q.max_bytes});
  }
  return rep;
}

}  // namespace wharf::registry
