#include "warm_command.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "admin_client.h"
#include "proxy/registry_answer.h"
#include "registry/image_ref.h"
#include "registry/manifest.h"
#include "registry/platform.h"
#include "util/encoding.h"

namespace wharf {
namespace {

using json = nlohmann::json;

// Blobs of one image fetched at once, as docker does.
constexpr size_t kParallelBlobs = 3;
// An index of indexes is followed this deep.
constexpr int kMaxDepth = 2;

struct Warmer {
  AdminClient& admin;
  std::vector<registry::Platform> want;
  bool all = false;

  std::string Path(const registry::ImageRef& ref, const char* kind, const std::string& what) const {
    return "/v2/" + ref.repo + "/" + kind + "/" + what + "?ns=" + UrlEncode(ref.registry);
  }

  // GET `path`: the body's first `keep` bytes go to *body; all of them are
  // counted in *bytes (may be null).
  Status Get(const std::string& path, const char* accept, proxy::ClientResponse* resp, std::string* body,
             size_t keep, uint64_t* bytes = nullptr) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (accept) headers.emplace_back("Accept", accept);
    Status st = admin.Do("GET", path, std::move(headers), resp, [&](std::string_view b) {
      if (bytes) *bytes += b.size();
      if (body->size() < keep) body->append(b.substr(0, keep - body->size()));
      return Status();
    });
    if (!st.ok()) return st;
    if (resp->status == 200) return Status();
    std::string why = proxy::RegistryErrorMessage(*body);
    return Status(Code::kUnavailable, path + ": HTTP " + std::to_string(resp->status) + (why.empty() ? "" : " " + why));
  }

  // Fetches manifest `reference` and, for an index, the chosen entries,
  // counting them in *manifests; collects every blob they name into *blobs.
  Status Manifest(const registry::ImageRef& ref, const std::string& reference, int depth, int* manifests,
                  std::vector<std::string>* blobs, std::string* digest) {
    proxy::ClientResponse resp;
    std::string body;
    Status st = Get(Path(ref, "manifests", reference), registry::media::kAnyManifest, &resp, &body, SIZE_MAX);
    if (!st.ok()) return st;
    if (digest) *digest = resp.Header("docker-content-digest");
    ++*manifests;
    registry::ParsedManifest m;
    registry::ManifestError err;
    if (!registry::ParseManifest(body, resp.Header("content-type"), &m, &err))
      return Status(Code::kInvalid, "manifest " + reference + ": " + err.message);
    for (const std::string& b : m.blobs)
      if (std::find(blobs->begin(), blobs->end(), b) == blobs->end()) blobs->push_back(b);
    if (!m.is_index) return Status();
    if (depth >= kMaxDepth) return Status(Code::kInvalid, "manifest " + reference + ": indexes nested too deep");
    std::vector<std::string> entries = registry::IndexEntriesFor(body, want, all);
    if (entries.empty()) return Status(Code::kNotFound, "the index has no manifest for the platforms asked for (--platform, --all-platforms)");
    for (const std::string& e : entries) WHARF_RETURN_IF_ERROR(Manifest(ref, e, depth + 1, manifests, blobs, nullptr));
    return Status();
  }

  // Reads every blob to its end, kParallelBlobs at a time.
  Status Blobs(const registry::ImageRef& ref, const std::vector<std::string>& blobs, uint64_t* bytes) {
    std::mutex mu;
    size_t next = 0;
    Status first;
    auto work = [&] {
      for (;;) {
        std::string d;
        {
          std::lock_guard<std::mutex> lock(mu);
          if (next == blobs.size() || !first.ok()) return;
          d = blobs[next++];
        }
        proxy::ClientResponse resp;
        std::string head;  // an error's body, for its message
        uint64_t n = 0;
        Status st = Get(Path(ref, "blobs", d), nullptr, &resp, &head, 4096, &n);
        std::lock_guard<std::mutex> lock(mu);
        *bytes += n;
        if (!st.ok() && first.ok()) first = st;
      }
    };
    std::vector<std::thread> threads;
    for (size_t i = 0; i < std::min(kParallelBlobs, blobs.size()); ++i) threads.emplace_back(work);
    for (auto& t : threads) t.join();
    return first;
  }

  json Warm(const registry::ImageRef& ref) {
    json report = {{"image", ref.ToString()}};
    std::vector<std::string> blobs;
    std::string digest;
    int manifests = 0;
    uint64_t bytes = 0;
    Status st = Manifest(ref, ref.reference, 0, &manifests, &blobs, &digest);
    if (st.ok()) st = Blobs(ref, blobs, &bytes);
    report["manifests"] = manifests;
    if (!st.ok()) {
      report["error"] = st.message();
      return report;
    }
    report["digest"] = digest;
    report["blobs"] = blobs.size();
    report["bytes"] = bytes;
    return report;
  }
};

}  // namespace

int WarmCommand(const Config& cfg, std::vector<std::string> images, const std::vector<std::string>& lists,
                const std::vector<std::string>& platforms, bool all_platforms) {
  for (const std::string& path : lists) {
    std::ifstream in(path);
    if (!in) {
      fprintf(stderr, "wharf warm: --file %s: %s\n", path.c_str(), strerror(errno));
      return 2;
    }
    for (std::string line; std::getline(in, line);) {
      line = line.substr(0, line.find('#'));
      const size_t b = line.find_first_not_of(" \t\r"), e = line.find_last_not_of(" \t\r");
      if (b != std::string::npos) images.push_back(line.substr(b, e - b + 1));
    }
  }
  std::vector<registry::ImageRef> refs;
  for (const std::string& i : images) {
    auto r = registry::ParseImageRef(i, cfg.proxy.default_registry);
    if (!r.ok()) {
      fprintf(stderr, "wharf warm: %s\n", r.status().message().c_str());
      return 2;
    }
    refs.push_back(*r);
  }
  AdminClient admin(cfg);
  Warmer w{admin, {}, all_platforms};
  for (const std::string& p : platforms) {
    auto pl = registry::ParsePlatform(p);
    if (!pl.ok()) {
      fprintf(stderr, "wharf warm: %s\n", pl.status().message().c_str());
      return 2;
    }
    w.want.push_back(*pl);
  }
  if (w.want.empty()) w.want.push_back(registry::HostPlatform());
  // The server does the fetching: say so plainly when none runs.
  proxy::ClientResponse probe;
  if (Status st = admin.Do("GET", "/livez", {}, &probe, [](std::string_view) { return Status(); }); !st.ok()) {
    fprintf(stderr, "wharf warm: no running server to fill its cache: %s\n", st.message().c_str());
    return 1;
  }
  json out = json::array();
  bool failed = false;
  for (const auto& r : refs) {
    out.push_back(w.Warm(r));
    failed |= out.back().contains("error");
  }
  printf("%s\n", json{{"images", out}}.dump().c_str());
  return failed ? 1 : 0;
}

}  // namespace wharf
