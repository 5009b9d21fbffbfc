#include "registry/import.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "registry/manifest.h"
#include "registry/manifest_write.h"
#include "registry/names.h"
#include "registry/proxy_service.h"
#include "util/digest.h"
#include "util/json_text.h"
#include "util/log.h"

namespace wharf::registry {
namespace {

namespace fs = std::filesystem;

// At most `limit` bytes of the file at `p`; nullopt if it cannot be read or
// is longer.
std::optional<std::string> ReadSmall(const fs::path& p, uint64_t limit) {
  std::error_code ec;
  const uint64_t size = fs::file_size(p, ec);
  if (ec || size > limit) return std::nullopt;
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::string out(size, '\0');
  in.read(out.data(), static_cast<std::streamsize>(size));
  if (static_cast<uint64_t>(in.gcount()) != size) return std::nullopt;
  return out;
}

// A distribution link file's content: a digest.
std::string ReadLink(const fs::path& p) {
  std::string text = ReadSmall(p, 200).value_or("");
  while (!text.empty() && isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

// The digests a distribution link directory names: <dir>/<algo>/<hex>/link,
// each holding "<algo>:<hex>". Links that disagree with their path are
// reported and left out.
std::vector<Digest> Links(const fs::path& dir, const std::string& what, ImportReport* rep) {
  std::vector<Digest> out;
  std::error_code ec;
  for (auto algo = fs::directory_iterator(dir, ec); !ec && algo != fs::directory_iterator(); algo.increment(ec)) {
    for (auto hex = fs::directory_iterator(algo->path(), ec); !ec && hex != fs::directory_iterator();
         hex.increment(ec)) {
      const std::string named = algo->path().filename().string() + ":" + hex->path().filename().string();
      auto d = Digest::Parse(ReadLink(hex->path() / "link"));
      if (!d.ok() || d->str() != named)
        rep->skipped.push_back(what + " " + named + ": its link is missing or names something else");
      else
        out.push_back(*d);
    }
  }
  return out;
}

// Repository directories under `dir`: those holding _manifests or _layers.
// Names nest (a/b is a repository inside a's directory).
void FindRepos(const fs::path& dir, const std::string& name, std::vector<std::string>* out) {
  std::error_code ec;
  if (!name.empty() && (fs::is_directory(dir / "_manifests", ec) || fs::is_directory(dir / "_layers", ec)))
    out->push_back(name);
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string child = it->path().filename().string();
    if (child.empty() || child[0] == '_' || !it->is_directory(ec)) continue;
    FindRepos(it->path(), name.empty() ? child : name + "/" + child, out);
  }
}

struct Manifest {
  Digest digest;
  std::string body;
  ParsedManifest parsed;
};

class Importer {
 public:
  Importer(storage::BlobStore& blobs, storage::MetaStore& meta, std::shared_mutex& gc_lock,
           fs::path v2, const ImportOptions& opt)
      : blobs_(blobs),
        meta_(meta),
        gc_lock_(gc_lock),
        v2_(std::move(v2)),
        opt_(opt),
        origin_(opt.cache_registry.empty() ? storage::Origin::kPushed : storage::Origin::kCached) {
    rep_.cached = !opt.cache_registry.empty();
  }

  // Imports repository `name` of the old registry, as `name` here or as
  // the proxy's cached copy of it.
  Status Repository(const std::string& name) {
    const fs::path dir = v2_ / "repositories" / name;
    const std::string repo =
        opt_.cache_registry.empty() ? name : ProxyService::StoreRepo(opt_.cache_registry, name);
    ImportReport was;  // the counts so far, for this repository's log line
    was.blobs = rep_.blobs;
    was.bytes = rep_.bytes;
    was.manifests = rep_.manifests;
    was.tags = rep_.tags;
    const size_t skipped = rep_.skipped.size();
    for (const Digest& d : Links(dir / "_layers", repo + ": blob", &rep_))
      WHARF_RETURN_IF_ERROR(HaveBlob(repo, d).status());
    std::map<std::string, Manifest> manifests;  // by digest
    for (const Digest& d : Links(dir / "_manifests" / "revisions", repo + ": manifest", &rep_)) {
      Manifest m{d, {}, {}};
      if (Read(repo, &m)) manifests.emplace(d.str(), std::move(m));
    }
    WHARF_RETURN_IF_ERROR(Manifests(repo, &manifests));
    WHARF_RETURN_IF_ERROR(Tags(repo, dir / "_manifests" / "tags", manifests));
    // A large registry takes minutes: one line per repository shows the way.
    WLOG_INFO("import: %s: %llu blobs (%llu bytes new), %llu manifests, %llu tags, %zu skipped", repo.c_str(),
              static_cast<unsigned long long>(rep_.blobs - was.blobs),
              static_cast<unsigned long long>(rep_.bytes - was.bytes),
              static_cast<unsigned long long>(rep_.manifests - was.manifests),
              static_cast<unsigned long long>(rep_.tags - was.tags), rep_.skipped.size() - skipped);
    if (rep_.blobs + rep_.manifests + rep_.tags > was.blobs + was.manifests + was.tags) ++rep_.repositories;
    return Status();
  }

  ImportReport& report() { return rep_; }

 private:
  fs::path DataPath(const Digest& d) const {
    return v2_ / "blobs" / d.algo_name() / d.hex.substr(0, 2) / d.hex / "data";
  }

  void Skip(const std::string& repo, const std::string& what, const std::string& why) {
    rep_.skipped.push_back(repo + ": " + what + ": " + why);
  }

  // Links blob `d` into `repo`, adopting its file first if the store lacks
  // it. False (reported) if it cannot be had; a metadata failure is an error.
  Result<bool> HaveBlob(const std::string& repo, const Digest& d) {
    if (meta_.LinkedSize(repo, d.str()).ok()) return true;
    if (unusable_.count(d.str())) return false;  // reported already
    uint64_t size = 0;
    if (auto fd = blobs_.Open(d, &size); fd.ok()) {
      ::close(*fd);
    } else {
      auto adopted = blobs_.Adopt(DataPath(d).string(), d);
      if (!adopted.ok()) {
        Skip(repo, "blob " + d.str(), adopted.status().message());
        unusable_.insert(d.str());
        return false;
      }
      size = *adopted;
      rep_.bytes += size;
    }
    WHARF_RETURN_IF_ERROR(meta_.CommitBlob(repo, d.str(), size, origin_, ""));
    ++rep_.blobs;
    return true;
  }

  bool Read(const std::string& repo, Manifest* m) {
    const std::string what = "manifest " + m->digest.str();
    auto body = ReadSmall(DataPath(m->digest), opt_.max_manifest_bytes);
    if (!body) {
      Skip(repo, what, "its data is missing or larger than http.limits.max_manifest_bytes");
      return false;
    }
    if (const Digest got = DigestOf(*body, m->digest.algo); !(got == m->digest)) {
      Skip(repo, what, "its data has digest " + got.str());
      return false;
    }
    ManifestError err;
    if (!ParseManifest(*body, "", &m->parsed, &err)) {
      Skip(repo, what, err.message);
      return false;
    }
    m->body = std::move(*body);
    return true;
  }

  // Commits the manifests whose references are all here, in passes, so
  // that an index follows the manifests it lists; what never gets its
  // references is reported. A cache holds what its clients pulled, such as
  // one platform of an index, so cached manifests need none of theirs (as
  // when the proxy stores them itself).
  Status Manifests(const std::string& repo, std::map<std::string, Manifest>* all) {
    std::map<std::string, Manifest*> waiting;
    for (auto& [digest, m] : *all) waiting.emplace(digest, &m);
    const bool hosted = origin_ == storage::Origin::kPushed;
    for (bool progress = true; progress && !waiting.empty();) {
      progress = false;
      for (auto it = waiting.begin(); it != waiting.end();) {
        const Manifest& m = *it->second;
        std::string missing;
        for (const std::string& c : m.parsed.children)
          if (hosted && !meta_.GetManifest(repo, c).ok()) missing = c;
        if (!missing.empty() && waiting.count(missing)) {
          ++it;  // a later pass, once that one is in
          continue;
        }
        for (const std::string& b : m.parsed.blobs) {
          if (!hosted) break;
          auto have = HaveBlob(repo, *Digest::Parse(b));
          if (!have.ok()) return have.status();
          if (!*have) missing = b;
        }
        if (missing.empty()) WHARF_RETURN_IF_ERROR(Commit(repo, m, &missing));
        if (missing.empty()) {
          ++rep_.manifests;
        } else {
          Skip(repo, "manifest " + it->first, "references " + missing + ", which is not imported");
          all->erase(it->first);
        }
        it = waiting.erase(it);
        progress = true;
      }
    }
    for (const auto& [digest, m] : waiting)
      Skip(repo, "manifest " + digest, "its index entries form a cycle");
    for (const auto& [digest, m] : waiting) all->erase(digest);
    return Status();
  }

  // As a push commits: under the gc lock, blobs checked again, the bytes
  // durable before the record.
  Status Commit(const std::string& repo, const Manifest& m, std::string* missing) {
    std::shared_lock<std::shared_mutex> gc(gc_lock_);
    for (const std::string& b : m.parsed.blobs)
      if (origin_ == storage::Origin::kPushed && !blobs_.Exists(*Digest::Parse(b))) *missing = b;
    if (!missing->empty()) return Status();
    WHARF_RETURN_IF_ERROR(blobs_.Write(m.digest, m.body));
    return meta_.PutManifest(ManifestWriteOf(repo, m.digest.str(), m.parsed, m.body.size(), origin_));
  }

  Status Tags(const std::string& repo, const fs::path& dir, const std::map<std::string, Manifest>& manifests) {
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      const std::string tag = it->path().filename().string();
      const std::string target = ReadLink(it->path() / "current" / "link");
      auto found = manifests.find(target);
      if (!ValidTag(tag)) {
        Skip(repo, "tag " + tag, "not a valid tag");
      } else if (found == manifests.end()) {
        Skip(repo, "tag " + tag,
             "its manifest " + (target.empty() ? std::string("(no link)") : target) + " is not imported");
      } else {
        const Manifest& m = found->second;
        storage::ManifestWrite w = ManifestWriteOf(repo, m.digest.str(), m.parsed, m.body.size(), origin_);
        w.tag = tag;
        WHARF_RETURN_IF_ERROR(meta_.PutManifest(w));
        ++rep_.tags;
      }
    }
    return Status();
  }

  storage::BlobStore& blobs_;
  storage::MetaStore& meta_;
  std::shared_mutex& gc_lock_;
  const fs::path v2_;
  const ImportOptions opt_;
  const storage::Origin origin_;
  ImportReport rep_;
  std::set<std::string> unusable_;  // blobs that could not be adopted
};

}  // namespace

std::string ImportReport::ToJson() const {
  return JsonText(nlohmann::json{{"repositories", repositories}, {"blobs", blobs}, {"bytes", bytes},
                                 {"manifests", manifests}, {"tags", tags}, {"cached", cached},
                                 {"skipped", skipped}});
}

Result<ImportReport> RunImport(storage::BlobStore& blobs, storage::MetaStore& meta, std::shared_mutex& gc_lock,
                               const ImportOptions& opt) {
  const std::string& dir = opt.dir;
  std::error_code ec;
  fs::path v2 = fs::path(dir) / "docker" / "registry" / "v2";
  if (!fs::is_directory(v2 / "repositories", ec)) v2 = dir;
  if (!fs::is_directory(v2 / "repositories", ec) || !fs::is_directory(v2 / "blobs", ec))
    return Status(Code::kInvalid, dir + " is not the reference registry's storage: it has no "
                                        "docker/registry/v2/repositories and blobs");
  std::vector<std::string> repos;
  FindRepos(v2 / "repositories", "", &repos);
  std::sort(repos.begin(), repos.end());
  Importer imp(blobs, meta, gc_lock, v2, opt);
  for (const std::string& repo : repos) {
    if (!ValidName(repo)) {
      imp.report().skipped.push_back(repo + ": not a valid repository name");
      continue;
    }
    WHARF_RETURN_IF_ERROR(imp.Repository(repo));
  }
  return std::move(imp.report());
}

}  // namespace wharf::registry
