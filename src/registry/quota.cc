#include "registry/quota.h"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <limits>
#include <unordered_set>

#include "registry/hosted_rule.h"
#include "util/metrics.h"

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

// Calls fn(digest, size) once for each distinct digest that the metadata
// counts for `rule`; `seen` collects them.
template <typename Fn>
Status ForEachCounted(const std::vector<QuotaRule>& rules, const QuotaRule& rule,
                      const storage::MetaStore& meta, std::unordered_set<std::string>& seen, Fn fn) {
  return meta.ForEachStoredUnder(rule.prefix, [&](std::string_view repo, std::string_view d, uint64_t size, bool) {
    if (HostedRuleFor(rules, repo) != &rule) return;  // another rule's, or not under the prefix
    if (seen.emplace(d).second) fn(d, size);
  });
}

}  // namespace

Result<uint64_t> QuotaUsage(const std::vector<QuotaRule>& rules, const QuotaRule& rule,
                            const storage::MetaStore& meta) {
  std::unordered_set<std::string> seen;
  uint64_t used = 0;
  Status st = ForEachCounted(rules, rule, meta, seen, [&](std::string_view, uint64_t size) { used += size; });
  if (!st.ok()) return st;
  return used;
}

QuotaGate::QuotaGate(const std::vector<QuotaRule>& rules, const storage::MetaStore& meta)
    : rules_(rules), meta_(meta), refusals_(new std::atomic<uint64_t>[rules.size()]()) {}

Status QuotaGate::Refuse(const QuotaRule& rule, uint64_t used, const std::string& what) {
  refusals_[static_cast<size_t>(&rule - rules_.data())].fetch_add(1, std::memory_order_relaxed);
  const std::string who = rule.prefix.empty() ? "this registry's repositories" : "the repositories under " + rule.prefix;
  return Status(Code::kDenied, "quota exceeded: " + who + " hold " + Bytes(used) + " of their " +
                                   Bytes(rule.max_bytes) + " (storage.quotas)" + what);
}

std::string QuotaGate::RenderMetrics() const {
  if (rules_.empty()) return {};
  std::string out =
      "# HELP wharf_storage_quota_refusals_total Pushes a storage.quotas rule refused (additions, upload "
      "sessions, uploads cut short).\n# TYPE wharf_storage_quota_refusals_total counter\n";
  for (size_t i = 0; i < rules_.size(); ++i)
    out += "wharf_storage_quota_refusals_total{prefix=" + LabelValue(rules_[i].prefix) + "} " +
           std::to_string(refusals_[i].load(std::memory_order_relaxed)) + "\n";
  return out;
}

QuotaGate::Ticket::Ticket(Ticket&& o) noexcept : gate_(o.gate_), id_(o.id_) { o.gate_ = nullptr; }

QuotaGate::Ticket& QuotaGate::Ticket::operator=(Ticket&& o) noexcept {
  if (this != &o) {
    Ticket old(std::move(*this));
    gate_ = o.gate_;
    id_ = o.id_;
    o.gate_ = nullptr;
  }
  return *this;
}

QuotaGate::Ticket::~Ticket() {
  if (!gate_) return;
  std::lock_guard<std::mutex> lock(gate_->mu_);
  // A scan that began before now may have missed the addition's write: it
  // stays for that scan (see ViewOf).
  if (gate_->scans_.empty())
    gate_->pending_.erase(id_);
  else
    gate_->pending_[id_].done = ++gate_->seq_;
}

Result<QuotaGate::View> QuotaGate::ViewOf(const QuotaRule& rule, std::string_view digest,
                                          std::unique_lock<std::mutex>& lock) {
  lock.lock();
  const uint64_t start = ++seq_;
  auto scan = scans_.insert(start);
  lock.unlock();
  View v;
  std::unordered_set<std::string> seen;
  auto count = [&](std::string_view d, uint64_t size) {
    v.used += size;
    v.largest = std::max(v.largest, size);
    v.holds |= d == digest;
  };
  Status st = ForEachCounted(rules_, rule, meta_, seen, count);
  lock.lock();
  scans_.erase(scan);
  const uint64_t oldest = scans_.empty() ? UINT64_MAX : *scans_.begin();
  for (auto it = pending_.begin(); it != pending_.end();) {
    const Pending& p = it->second;
    // Gone before this scan began: its write, if any, was scanned.
    const bool missed = !p.done || p.done > start;
    if (st.ok() && missed && p.rule == &rule && seen.insert(p.digest).second) count(p.digest, p.size);
    // Gone before every scan in flight began: none needs it any more.
    it = p.done && p.done < oldest ? pending_.erase(it) : std::next(it);
  }
  if (!st.ok()) return st;
  return v;
}

Result<QuotaGate::Ticket> QuotaGate::Admit(std::string_view repo, std::string_view digest, uint64_t size) {
  const QuotaRule* rule = HostedRuleFor(rules_, repo);
  if (!rule) return Ticket();
  std::unique_lock<std::mutex> lock(mu_, std::defer_lock);
  auto v = ViewOf(*rule, digest, lock);
  if (!v.ok()) return v.status();
  if (!v->holds && v->used + size > rule->max_bytes) return Refuse(*rule, v->used, ", and this adds " + Bytes(size));
  // Held even when the rule counts the digest already: what counts it may
  // be another admitted addition, which can still fail.
  const uint64_t id = next_id_++;
  pending_.emplace(id, Pending{rule, std::string(digest), size});
  return Ticket(this, id);
}

Status QuotaGate::CheckRoom(std::string_view repo) {
  const QuotaRule* rule = HostedRuleFor(rules_, repo);
  if (!rule) return Status();
  std::unique_lock<std::mutex> lock(mu_, std::defer_lock);
  auto v = ViewOf(*rule, {}, lock);
  if (!v.ok()) return v.status();
  return v->used < rule->max_bytes ? Status() : Refuse(*rule, v->used, ": no room for another upload");
}

Result<UploadCap> QuotaGate::UploadCapFor(std::string_view repo) {
  UploadCap cap;
  cap.rule = HostedRuleFor(rules_, repo);
  if (!cap.rule) return cap;
  std::unique_lock<std::mutex> lock(mu_, std::defer_lock);
  auto v = ViewOf(*cap.rule, {}, lock);
  if (!v.ok()) return v.status();
  cap.used = v->used;
  cap.gate = this;
  const uint64_t room = v->used < cap.rule->max_bytes ? cap.rule->max_bytes - v->used : 0;
  cap.bytes = std::max(room, v->largest);
  return cap;
}

Status UploadCap::Check(uint64_t size) const {
  if (size <= bytes) return Status();
  return gate->Refuse(*rule, used, ", and this upload comes to at least " + Bytes(size));
}

}  // namespace wharf::registry
