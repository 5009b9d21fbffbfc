#include "registry/events.h"

#include "registry/client_view.h"
#include "registry/routes.h"
#include "storage/meta_store.h"

namespace wharf::registry {
namespace {

constexpr char kBlobType[] = "application/octet-stream";  // as the reference registry names blobs

std::string HeaderOf(const http::Request& req, std::string_view name) {
  const std::string* v = req.Find(name);
  return v ? *v : std::string();
}

}  // namespace

std::optional<notify::Event> EventOf(Services& s, const http::Exchange& ex) {
  const http::Request& req = ex.req;
  const http::Response& res = ex.res;
  if (res.status < 200 || res.status >= 300) return std::nullopt;
  const std::string repo(req.params[0]);
  if (repo.empty() || storage::IsCachedRepo(repo)) return std::nullopt;  // a DELETE of cached content
  notify::Event e;
  e.repository = repo;
  bool blob = false;
  const bool get = req.method == "GET", put = req.method == "PUT", del = req.method == "DELETE";
  switch (req.route) {
    case kRouteManifest: {
      if (!get && !put && !del) return std::nullopt;
      e.action = get ? "pull" : put ? "push" : "delete";
      const std::string ref(req.params[1]);
      const bool by_digest = ref.find(':') != std::string::npos;
      if (!by_digest) e.tag = ref;
      e.digest = del ? (by_digest ? ref : std::string()) : std::string(res.Header("Docker-Content-Digest"));
      if (get) {
        e.media_type = res.Header("Content-Type");
        e.size = res.BodySize();
      } else if (put) {
        e.media_type = HeaderOf(req, "Content-Type");
        e.size = req.body.size();
      }
      break;
    }
    case kRouteBlob:
      if (!get && !del) return std::nullopt;
      e.action = get ? "pull" : "delete";
      blob = true;
      e.digest = req.params[1];
      if (get) {
        e.media_type = kBlobType;
        e.size = res.BodySize();
      }
      break;
    case kRouteUpload:       // the PUT that completes an upload
    case kRouteUploadStart:  // a monolithic POST, or a mount
      if (req.route == kRouteUpload ? !put : req.method != "POST") return std::nullopt;
      if (res.status != 201) return std::nullopt;
      blob = true;
      e.digest = res.Header("Docker-Content-Digest");
      e.media_type = kBlobType;
      if (req.route == kRouteUploadStart) {
        bool mounted = false;
        std::string from = req.QueryParam("from", &mounted);
        if (mounted && !req.QueryParam("mount").empty()) {
          e.action = "mount";
          e.from_repository = std::move(from);
        }
      }
      if (e.action.empty()) e.action = "push";
      if (auto size = s.meta->LinkedSize(repo, e.digest); size.ok()) e.size = *size;
      break;
    default:
      return std::nullopt;
  }
  e.request_id = req.id();
  const ClientView client = ViewOf(s.trusted_proxies, req);
  e.addr = client.ip;
  e.host = client.host;
  if (!e.digest.empty())
    e.url = (client.secure ? "https://" : "http://") + e.host + "/v2/" + repo + (blob ? "/blobs/" : "/manifests/") +
            e.digest;
  e.method = req.method;
  e.user_agent = HeaderOf(req, "User-Agent");
  e.actor = ex.user;
  return e;
}

}  // namespace wharf::registry
