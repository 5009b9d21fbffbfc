#include "registry/gc.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "registry/hosted_rule.h"
#include "registry/immutable_tags.h"
#include "registry/manifest.h"
#include "registry/retention.h"
#include "util/log.h"

namespace wharf::registry {
namespace {

struct Entry {
  std::string repo, digest;
  storage::ManifestRecord rec;
  ParsedManifest parsed;
};

// Manifest digests per repository.
using ManifestSets = std::map<std::string, std::set<std::string>>;

// Adds to each repository's set the manifests its members list (an index's
// entries) and their referrers (a subject's signatures, SBOMs, ...), to a
// fixed point.
void Close(const std::vector<Entry>& entries, ManifestSets* sets) {
  for (bool changed = true; changed;) {
    changed = false;
    for (const Entry& e : entries) {
      auto it = sets->find(e.repo);
      if (it == sets->end()) continue;
      if (it->second.count(e.digest)) {
        for (const auto& c : e.parsed.children) changed |= it->second.insert(c).second;
      } else if (!e.rec.subject.empty() && it->second.count(e.rec.subject)) {
        changed |= it->second.insert(e.digest).second;
      }
    }
  }
}

// Retention: deletes the tags the rules let go (a dry run only lists them)
// into *expired, and makes the manifests they pointed at, the manifests
// those list and their referrers *candidates for deletion.
Status ExpireTags(storage::MetaStore& meta, const std::vector<Entry>& entries, const GcOptions& opt,
                  GcReport* rep, std::set<std::pair<std::string, std::string>>* expired, ManifestSets* candidates) {
  if (opt.retention.empty()) return Status();
  std::map<std::pair<std::string, std::string>, int64_t> pushed;  // repository, digest
  for (const Entry& e : entries) pushed[{e.repo, e.digest}] = e.rec.created_ms;
  std::map<std::string, std::vector<TagAge>> governed;
  std::map<std::pair<std::string, std::string>, std::string> target;  // repository, tag -> digest
  WHARF_RETURN_IF_ERROR(meta.ForEachTag([&](const std::string& repo, const std::string& tag,
                                            const storage::TagRecord& t) {
    if (!HostedRuleFor(opt.retention, repo)) return;
    auto it = pushed.find({repo, t.digest});
    governed[repo].push_back({tag, it == pushed.end() ? 0 : it->second});
    target[{repo, tag}] = t.digest;
  }));
  const int64_t now_ms = storage::NowMs();
  for (auto& [repo, tags] : governed)
    for (std::string& tag : ExpiredTags(*HostedRuleFor(opt.retention, repo), std::move(tags), now_ms)) {
      if (TagImmutable(opt.immutable_tags, repo, tag)) continue;
      (*candidates)[repo].insert(target[{repo, tag}]);
      expired->emplace(repo, std::move(tag));
    }
  rep->tags_expired = expired->size();
  for (const auto& [repo, tag] : *expired) {
    WLOG_INFO("gc: retention %s tag %s:%s", opt.dry_run ? "would remove" : "removes", repo.c_str(), tag.c_str());
    if (!opt.dry_run) WHARF_RETURN_IF_ERROR(meta.DeleteTag(repo, tag));
  }
  Close(entries, candidates);
  return Status();
}

}  // namespace

GcOptions GcOptionsOf(const StorageConfig& storage, bool dry_run, bool delete_untagged) {
  return GcOptions{dry_run, delete_untagged, int64_t{storage.gc_grace_minutes} * 60 * 1000, storage.retention,
                   storage.immutable_tags};
}

std::string GcReport::ToJson() const {
  return nlohmann::json{{"dry_run", dry_run},
                        {"manifests", manifests},
                        {"marked_blobs", marked_blobs},
                        {"tags_expired", tags_expired},
                        {"untagged_deleted", untagged_deleted},
                        {"blobs_deleted", blobs_deleted},
                        {"bytes_freed", bytes_freed},
                        {"blobs_in_grace", blobs_in_grace}}
      .dump();
}

Result<GcReport> RunGc(storage::BlobStore& blobs, storage::MetaStore& meta,
                       std::shared_mutex& lock, const GcOptions& opt) {
  std::unique_lock<std::shared_mutex> guard(lock);
  GcReport rep;
  rep.dry_run = opt.dry_run;

  std::vector<Entry> entries;
  Status st = meta.ForEachManifest([&](const std::string& repo, const std::string& digest,
                                       const storage::ManifestRecord& rec) {
    entries.push_back(Entry{repo, digest, rec, {}});
  });
  WHARF_RETURN_IF_ERROR(st);
  for (Entry& e : entries) {
    auto bytes = blobs.ReadAll(e.digest);
    ManifestError err;
    if (!bytes.ok() || !ParseManifest(*bytes, e.rec.media_type, &e.parsed, &err))
      WLOG_WARN("gc: manifest %s in %s unreadable; keeping it", e.digest.c_str(), e.repo.c_str());
  }

  // Deletion candidates: with delete_untagged every manifest; otherwise
  // those that lose a tag to retention, with what they list and their
  // referrers. A candidate goes unless a tag, an index or a subject that
  // stays keeps it alive.
  std::set<std::pair<std::string, std::string>> expired;  // repository, tag
  ManifestSets candidates;
  WHARF_RETURN_IF_ERROR(ExpireTags(meta, entries, opt, &rep, &expired, &candidates));
  if (opt.delete_untagged || !candidates.empty()) {
    auto candidate = [&](const Entry& e) {
      auto it = candidates.find(e.repo);
      return opt.delete_untagged || (it != candidates.end() && it->second.count(e.digest));
    };
    ManifestSets alive;
    for (const Entry& e : entries) {
      std::vector<std::string> tags;
      if (candidate(e)) WHARF_RETURN_IF_ERROR(meta.TagsPointingAt(e.repo, e.digest, &tags));
      // A dry run deleted no tag: count as if it had.
      const bool tagged = std::any_of(tags.begin(), tags.end(),
                                      [&](const std::string& t) { return !expired.count({e.repo, t}); });
      if (!candidate(e) || tagged) alive[e.repo].insert(e.digest);
    }
    Close(entries, &alive);
    std::vector<Entry> kept;
    for (Entry& e : entries) {
      if (alive[e.repo].count(e.digest)) {
        kept.push_back(std::move(e));
        continue;
      }
      ++rep.untagged_deleted;
      if (!opt.dry_run) WHARF_RETURN_IF_ERROR(meta.DeleteManifest(e.repo, e.digest));
    }
    entries.swap(kept);
  }

  std::set<std::string> marked;
  for (const Entry& e : entries) {
    marked.insert(e.digest);
    for (const auto& b : e.parsed.blobs) marked.insert(b);
    for (const auto& c : e.parsed.children) marked.insert(c);
  }
  rep.manifests = entries.size();
  rep.marked_blobs = marked.size();

  const int64_t now_s = storage::NowMs() / 1000;
  std::set<std::string> doomed;
  st = blobs.ForEach([&](const Digest& d, uint64_t size, int64_t mtime) {
    std::string s = d.str();
    if (marked.count(s)) return;
    if ((now_s - mtime) * 1000 < opt.grace_ms) {
      ++rep.blobs_in_grace;
      return;
    }
    doomed.insert(s);
    ++rep.blobs_deleted;
    rep.bytes_freed += size;
  });
  WHARF_RETURN_IF_ERROR(st);
  if (!opt.dry_run && !doomed.empty()) {
    // Records first: a crash in between leaves orphan files, never records
    // that point at missing files.
    WHARF_RETURN_IF_ERROR(meta.ForgetBlobs(doomed));
    for (const auto& s : doomed) WHARF_RETURN_IF_ERROR(blobs.Remove(*Digest::Parse(s)));
  }
  WLOG_INFO("gc: %s", rep.ToJson().c_str());
  return rep;
}

}  // namespace wharf::registry
