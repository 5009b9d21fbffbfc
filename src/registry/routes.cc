#include "registry/routes.h"

namespace wharf::registry {

using namespace wharf::http;

const std::vector<RouteSpec>& RouteTable() {
  static const std::vector<RouteSpec> t = {
      {kRouteBase, "/v2/", kGet | kHead, "base"},
      {kRouteHealthz, "/healthz", kGet | kHead, "healthz"},
      {kRouteLivez, "/livez", kGet | kHead, "livez"},
      {kRouteMetrics, "/metrics", kGet | kHead, "metrics"},
      {kRouteCatalog, "/v2/_catalog", kGet, "catalog"},
      {kRouteTags, "/v2/<name...>/tags/list", kGet, "tags"},
      {kRouteManifest, "/v2/<name...>/manifests/<reference>", kGet | kHead | kPut | kDelete,
       "manifest"},
      {kRouteUploadStart, "/v2/<name...>/blobs/uploads/", kPost, "upload_start"},
      {kRouteUpload, "/v2/<name...>/blobs/uploads/<uuid>", kGet | kPatch | kPut | kDelete,
       "upload"},
      {kRouteBlob, "/v2/<name...>/blobs/<digest>", kGet | kHead | kDelete, "blob"},
      {kRouteReferrers, "/v2/<name...>/referrers/<digest>", kGet, "referrers"},
      // Only reachable through the admin socket (see Registry::Begin).
      {kRouteAdminGc, "/admin/gc", kPost, "admin_gc"},
      {kRouteAdminFsck, "/admin/fsck", kPost, "admin_fsck"},
      {kRouteAdminImport, "/admin/import", kPost, "admin_import"},
      {kRouteAdminUsage, "/admin/usage", kPost, "admin_usage"},
      {kRouteToken, "/auth/token", kGet | kPost, "token"},
  };
  return t;
}

std::vector<std::string> RouteLabels() {
  std::vector<std::string> l(kRouteCount, "other");
  for (const RouteSpec& r : RouteTable()) l[r.id] = r.label;
  return l;
}

void BuildRouter(Router* r) {
  for (const RouteSpec& s : RouteTable()) r->Add(s.pattern, s.methods, s.id);
}

}  // namespace wharf::registry
