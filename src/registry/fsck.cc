#include "registry/fsck.h"

#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "registry/manifest.h"
#include "util/log.h"
#include "util/json_text.h"

namespace wharf::registry {

std::string FsckReport::ToJson() const {
  nlohmann::json probs = nlohmann::json::array();
  for (const auto& p : problems)
    probs.push_back({{"kind", p.kind}, {"subject", p.subject}, {"detail", p.detail},
                     {"repaired", p.repaired}});
  return JsonText(nlohmann::json{{"ok", ok()},
                                 {"blobs_checked", blobs_checked},
                                 {"bytes_checked", bytes_checked},
                                 {"manifests_checked", manifests_checked},
                                 {"tags_checked", tags_checked},
                                 {"unreferenced_files", unreferenced_files},
                                 {"problems", probs}});
}

Status QuarantineBlob(storage::BlobStore& blobs, storage::MetaStore& meta, const Digest& d,
                      const std::string& why) {
  WHARF_RETURN_IF_ERROR(meta.ForgetBlobs({d.str()}));
  auto where = blobs.Quarantine(d);
  if (!where.ok() && where.status().code() != Code::kNotFound) return where.status();
  WLOG_ERROR("blob %s quarantined (%s)%s%s", d.str().c_str(), why.c_str(),
             where.ok() ? ": moved to " : "", where.ok() ? where->c_str() : "");
  return Status();
}

namespace {

// Check 1: every recorded blob against its file. *recorded gets every
// digest the index names, for check 4.
Status CheckBlobs(storage::BlobStore& blobs, storage::MetaStore& meta, bool repair,
                  FsckReport* rep, std::set<std::string>* recorded) {
  std::vector<std::pair<std::string, uint64_t>> records;
  WHARF_RETURN_IF_ERROR(meta.ForEachBlob(
      [&](const std::string& digest, const storage::BlobRecord& r) { records.emplace_back(digest, r.size); }));
  for (const auto& r : records) recorded->insert(r.first);
  for (const auto& [digest, size] : records) {
    auto d = Digest::Parse(digest);
    if (!d.ok()) {
      rep->problems.push_back({"corrupt_blob", digest, "unparseable digest in the index", false});
      continue;
    }
    ++rep->blobs_checked;
    uint64_t got = 0;
    auto actual = blobs.Rehash(*d, &got);
    rep->bytes_checked += got;
    FsckProblem p;
    if (!actual.ok() && actual.status().code() == Code::kNotFound) {
      p = {"missing_blob_file", digest, "recorded, but no file", false};
    } else if (!actual.ok()) {
      p = {"corrupt_blob", digest, actual.status().message(), false};
    } else if (got != size) {
      p = {"corrupt_blob", digest,
           "size " + std::to_string(got) + ", recorded " + std::to_string(size), false};
    } else if (!(*actual == *d)) {
      p = {"corrupt_blob", digest, "content hashes to " + actual->str(), false};
    } else {
      continue;
    }
    if (repair) {
      Status st = QuarantineBlob(blobs, meta, *d, "fsck: " + p.detail);
      p.repaired = st.ok();
      if (!st.ok()) p.detail += "; repair failed: " + st.message();
    }
    rep->problems.push_back(std::move(p));
  }
  return Status();
}

// Checks 2 and 3: manifests and tags against what is recorded.
Status CheckReferences(storage::BlobStore& blobs, storage::MetaStore& meta, FsckReport* rep) {
  struct M {
    std::string repo, digest, media_type;
  };
  std::vector<M> manifests;
  WHARF_RETURN_IF_ERROR(meta.ForEachManifest(
      [&](const std::string& repo, const std::string& digest, const storage::ManifestRecord& r) {
        manifests.push_back({repo, digest, r.media_type});
      }));
  for (const M& m : manifests) {
    ++rep->manifests_checked;
    const std::string subject = m.repo + "@" + m.digest;
    auto bytes = blobs.ReadAll(m.digest);
    ParsedManifest parsed;
    ManifestError err;
    if (!bytes.ok()) {
      rep->problems.push_back({"unreadable_manifest", subject, bytes.status().message(), false});
      continue;
    }
    if (!ParseManifest(*bytes, m.media_type, &parsed, &err)) {
      rep->problems.push_back({"unreadable_manifest", subject, err.message, false});
      continue;
    }
    if (storage::IsCachedRepo(m.repo)) continue;
    for (const auto& b : parsed.blobs)
      if (!meta.LinkedSize(m.repo, b).ok())
        rep->problems.push_back({"dangling_reference", subject, "blob " + b + " is not stored", false});
    for (const auto& c : parsed.children)
      if (!meta.GetManifest(m.repo, c).ok())
        rep->problems.push_back({"dangling_reference", subject, "manifest " + c + " is not stored", false});
  }
  return meta.ForEachTag([&](const std::string& repo, const std::string& tag, const storage::TagRecord& t) {
    ++rep->tags_checked;
    if (!meta.GetManifest(repo, t.digest).ok())
      rep->problems.push_back({"dangling_tag", repo + ":" + tag, "manifest " + t.digest + " is not stored", false});
  });
}

}  // namespace

Result<FsckReport> RunFsck(storage::BlobStore& blobs, storage::MetaStore& meta,
                           std::shared_mutex& lock, bool repair) {
  std::shared_lock<std::shared_mutex> guard(lock);
  FsckReport rep;
  std::set<std::string> known;
  WHARF_RETURN_IF_ERROR(CheckBlobs(blobs, meta, repair, &rep, &known));
  WHARF_RETURN_IF_ERROR(CheckReferences(blobs, meta, &rep));
  WHARF_RETURN_IF_ERROR(blobs.ForEach([&](const Digest& d, uint64_t, int64_t) {
    if (!known.count(d.str())) ++rep.unreferenced_files;
  }));
  WLOG_INFO("fsck: %zu problems; %llu blobs (%llu bytes), %llu manifests, %llu tags checked",
            rep.problems.size(), static_cast<unsigned long long>(rep.blobs_checked),
            static_cast<unsigned long long>(rep.bytes_checked),
            static_cast<unsigned long long>(rep.manifests_checked),
            static_cast<unsigned long long>(rep.tags_checked));
  return rep;
}

}  // namespace wharf::registry
