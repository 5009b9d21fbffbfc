// GET /v2/<name>/tags/list, GET /v2/_catalog, GET /v2/<name>/referrers/<digest>
#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "registry/errors.h"
#include "registry/handlers.h"
#include "registry/headers.h"
#include "util/encoding.h"
#include "registry/manifest.h"

namespace wharf::registry {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxPage = 10000;  // an absent or larger n is capped here

struct Page {
  size_t n = kMaxPage;
  bool n_given = false;
  std::string last;
};

bool ParsePage(http::Exchange& ex, Page* p) {
  bool has = false;
  std::string n = ex.req.QueryParam("n", &has);
  if (has) {
    uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
    if (n.empty() || ec != std::errc() || ptr != n.data() + n.size()) {
      Fail(ex.res, Err::kPaginationInvalid, "n must be a non-negative integer");
      return false;
    }
    p->n = std::min<uint64_t>(v, kMaxPage);
    p->n_given = true;
  }
  p->last = ex.req.QueryParam("last");
  return true;
}

// RFC 5988 Link to the next page, as the spec describes.
void NextLink(http::Response& res, std::string_view path, const Page& p, const std::string& last) {
  std::string link = "<";
  link.append(path);
  link.append("?n=").append(std::to_string(p.n));
  link.append("&last=").append(UrlEncode(last));
  link.append(">; rel=\"next\"");
  res.AddHeader("Link", link);
}

void SendJson(http::Response& res, const json& j, const char* type = "application/json") {
  res.Set(200, type, j.dump());
}

}  // namespace

void ListTags(Services& s, http::Exchange& ex) {
  const std::string repo(ex.req.params[0]);
  Page p;
  if (!ParsePage(ex, &p)) return;
  if (!s.meta->RepoExists(repo)) {
    Fail(ex.res, Err::kNameUnknown, "repository name not known to registry",
         "{\"name\":\"" + repo + "\"}");
    return;
  }
  std::vector<std::string> tags;
  bool more = false;
  Status st = s.meta->ListTags(repo, p.last, p.n, &tags, &more);
  if (!st.ok()) return FailStorage(ex.res, st);
  SendJson(ex.res, json{{"name", repo}, {"tags", tags}});
  if (more && !tags.empty()) NextLink(ex.res, ex.req.path, p, tags.back());
}

void SendTags(http::Exchange& ex, const std::string& name, std::vector<std::string> tags) {
  Page p;
  if (!ParsePage(ex, &p)) return;
  std::sort(tags.begin(), tags.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
  auto first = p.last.empty() ? tags.begin() : std::upper_bound(tags.begin(), tags.end(), p.last);
  std::vector<std::string> page;
  for (auto it = first; it != tags.end() && page.size() < p.n; ++it) page.push_back(*it);
  const bool more = first + static_cast<std::ptrdiff_t>(page.size()) != tags.end();
  SendJson(ex.res, json{{"name", name}, {"tags", page}});
  if (more && !page.empty()) NextLink(ex.res, ex.req.path, p, page.back());
}

void ListCatalog(Services& s, http::Exchange& ex) {
  Page p;
  if (!ParsePage(ex, &p)) return;
  std::vector<std::string> repos;
  bool more = false;
  Status st = s.meta->ListRepos(p.last, p.n, &repos, &more);
  if (!st.ok()) return FailStorage(ex.res, st);
  SendJson(ex.res, json{{"repositories", repos}});
  if (more && !repos.empty()) NextLink(ex.res, ex.req.path, p, repos.back());
}

void ListReferrers(Services& s, http::Exchange& ex) {
  const std::string repo(ex.req.params[0]);
  auto d = Digest::Parse(ex.req.params[1]);
  if (!d.ok()) return Fail(ex.res, Err::kDigestInvalid, d.status().message());
  if (!s.meta->RepoExists(repo))
    return Fail(ex.res, Err::kNameUnknown, "repository name not known to registry",
                "{\"name\":\"" + repo + "\"}");
  bool filtered = false;
  std::string want = ex.req.QueryParam("artifactType", &filtered);
  std::vector<std::string> descs;
  Status st = s.meta->ListReferrers(repo, d->str(), &descs);
  if (!st.ok()) return FailStorage(ex.res, st);
  json list = json::array();
  for (const std::string& text : descs) {
    json desc = json::parse(text, nullptr, false);
    if (desc.is_discarded()) continue;
    if (filtered && desc.value("artifactType", "") != want) continue;
    list.push_back(std::move(desc));
  }
  json index = {{"schemaVersion", 2}, {"mediaType", media::kOciIndex}, {"manifests", list}};
  SendJson(ex.res, index, media::kOciIndex);
  if (filtered) ex.res.AddHeader("OCI-Filters-Applied", "artifactType");
}

}  // namespace wharf::registry
