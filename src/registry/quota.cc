#include "registry/quota.h"

#include <cstdio>
#include <iterator>
#include <unordered_set>

#include "registry/hosted_rule.h"

namespace wharf::registry {
namespace {

// "512 B", "1.5 MiB", "50.0 GiB": what a client's error shows.
std::string Bytes(uint64_t n) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (n < 1024) return std::to_string(n) + " B";
  double v = static_cast<double>(n) / 1024;
  size_t u = 0;
  for (; v >= 1024 && u + 1 < std::size(kUnits); ++u) v /= 1024;
  char buf[32];
  snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[u]);
  return buf;
}

}  // namespace

Result<uint64_t> QuotaUsage(const std::vector<QuotaRule>& rules, const QuotaRule& rule,
                            const storage::MetaStore& meta, std::string_view digest, bool* holds) {
  std::unordered_set<std::string> seen;
  uint64_t used = 0;
  bool found = false;
  Status st = meta.ForEachStoredUnder(rule.prefix, [&](std::string_view repo, std::string_view d, uint64_t size, bool) {
    if (HostedRuleFor(rules, repo) != &rule) return;  // another rule's, or not under the prefix
    if (!seen.emplace(d).second) return;
    used += size;
    found |= d == digest;
  });
  if (!st.ok()) return st;
  if (holds) *holds = found;
  return used;
}

namespace {

Status Exceeded(const QuotaRule& rule, uint64_t used, const std::string& what) {
  const std::string who = rule.prefix.empty() ? "this registry's repositories" : "the repositories under " + rule.prefix;
  return Status(Code::kDenied, "quota exceeded: " + who + " hold " + Bytes(used) + " of their " +
                                   Bytes(rule.max_bytes) + " (storage.quotas)" + what);
}

}  // namespace

Status CheckQuota(const std::vector<QuotaRule>& rules, const storage::MetaStore& meta,
                  std::string_view repo, std::string_view digest, uint64_t size) {
  const QuotaRule* rule = HostedRuleFor(rules, repo);
  if (!rule) return Status();
  bool holds = false;
  auto used = QuotaUsage(rules, *rule, meta, digest, &holds);
  if (!used.ok()) return used.status();
  if (holds || *used + size <= rule->max_bytes) return Status();
  return Exceeded(*rule, *used, ", and this adds " + Bytes(size));
}

Status CheckQuotaRoom(const std::vector<QuotaRule>& rules, const storage::MetaStore& meta,
                      std::string_view repo) {
  const QuotaRule* rule = HostedRuleFor(rules, repo);
  if (!rule) return Status();
  auto used = QuotaUsage(rules, *rule, meta);
  if (!used.ok()) return used.status();
  return *used < rule->max_bytes ? Status() : Exceeded(*rule, *used, ": no room for another upload");
}

}  // namespace wharf::registry
