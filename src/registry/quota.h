// Storage quotas for pushed content (storage.quotas): a team's repositories
// cannot fill the disk that every other team pushes to.
//
// A repository is governed by the rule with the longest prefix that holds it
// (HostedRuleFor); a rule counts what the repositories it governs hold
// together: every distinct blob linked into them and every manifest, each
// digest once however many of them hold it. Cached (proxied) repositories are
// never governed: proxy.cache_max_bytes bounds them.
//
// Content added to a repository (an upload completed, a blob mounted, a
// manifest pushed) must fit; content the rule already counts costs nothing.
// An upload is refused at its start when the rule is full already, and as
// soon as its bytes prove that it cannot fit when it completes.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "storage/meta_store.h"
#include "util/status.h"

namespace wharf::registry {

// What the repositories that `rule` (an element of `rules`) governs hold,
// in bytes, as the metadata says. Thread-safe, blocking (one ordered
// metadata scan, no blob file read): call off the event loop.
Result<uint64_t> QuotaUsage(const std::vector<QuotaRule>& rules, const QuotaRule& rule,
                            const storage::MetaStore& meta);

class QuotaGate;

// How far an upload into a repository may grow (QuotaGate::UploadCapFor).
struct UploadCap {
  uint64_t bytes = std::numeric_limits<uint64_t>::max();
  const QuotaRule* rule = nullptr;  // null: no rule governs the repository
  uint64_t used = 0;                // what the rule counted
  QuotaGate* gate = nullptr;        // which counts the refusals
  // OK while `size` is within `bytes`; otherwise kDenied, explained for the
  // client (and counted as the rule's refusal).
  Status Check(uint64_t size) const;
};

// Decides additions under storage.quotas. Additions that run at the same
// moment are decided one after the other, and each counts what the metadata
// holds plus what the additions admitted before it will add, so together
// they cannot take a rule over its limit.
//
// Thread-safe; every call for a governed repository scans metadata
// (blocking: off the event loop). The scans run side by side; only the
// decision after each is serialised. An addition that failed may still be
// counted by a scan that ran while it went (never the other way round).
class QuotaGate {
 public:
  // `rules` and `meta` must outlive the gate and every ticket it issued.
  QuotaGate(const std::vector<QuotaRule>& rules, const storage::MetaStore& meta);

  // The room an admitted addition holds. Destroy it once the addition is
  // written, or has failed: from then on the metadata counts it, or nothing
  // does. Movable; an empty ticket holds nothing.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& o) noexcept;
    Ticket& operator=(Ticket&& o) noexcept;
    ~Ticket();

   private:
    friend class QuotaGate;
    Ticket(QuotaGate* gate, uint64_t id) : gate_(gate), id_(id) {}
    QuotaGate* gate_ = nullptr;
    uint64_t id_ = 0;
  };

  // A ticket when `digest` (`size` bytes) may be added to `repo`: it fits,
  // or the rule counts it already. kDenied, explained for the client, when it
  // would take the rule over max_bytes; a metadata error as it came.
  Result<Ticket> Admit(std::string_view repo, std::string_view digest, uint64_t size);

  // For an upload about to start, its content unknown: kDenied when the rule
  // governing `repo` has no byte left, so that the client hears it before
  // it sends the blob rather than after.
  Status CheckRoom(std::string_view repo);

  // The most bytes an upload into `repo` may reach and still be admitted
  // when it completes (no limit for an ungoverned repository): beyond that,
  // it neither fits nor can equal anything the rule counts. Admits nothing;
  // a metadata error as it came.
  Result<UploadCap> UploadCapFor(std::string_view repo);

  // wharf_storage_quota_refusals_total{prefix}: the refusals of each rule
  // (additions, upload sessions and uploads cut short), for /metrics. Empty
  // without rules.
  std::string RenderMetrics() const;

 private:
  friend struct UploadCap;
  // Counts a refusal of `rule` and returns it explained.
  Status Refuse(const QuotaRule& rule, uint64_t used, const std::string& what);

  struct Pending {
    const QuotaRule* rule;
    std::string digest;
    uint64_t size;
    uint64_t done = 0;  // when its ticket went (seq_), 0 while it lives
  };
  struct View {
    uint64_t used = 0;     // distinct bytes, stored or admitted
    uint64_t largest = 0;  // the largest of them
    bool holds = false;    // whether the digest asked about is among them
  };
  // Scans the metadata with `lock` (on mu_) released, then takes it again
  // to add the admitted additions the scan may have missed: those whose
  // tickets live, or went while it ran. Returns with `lock` held.
  Result<View> ViewOf(const QuotaRule& rule, std::string_view digest, std::unique_lock<std::mutex>& lock);

  const std::vector<QuotaRule>& rules_;
  const storage::MetaStore& meta_;
  std::mutex mu_;
  std::map<uint64_t, Pending> pending_;  // by ticket id
  uint64_t next_id_ = 1;
  uint64_t seq_ = 0;                    // orders scan starts and tickets' ends
  std::multiset<uint64_t> scans_;       // when each scan in flight began
  std::unique_ptr<std::atomic<uint64_t>[]> refusals_;  // by rule index
};

}  // namespace wharf::registry
