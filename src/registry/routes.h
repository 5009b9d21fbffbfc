// The registry's routes, declared as data: one table gives each route its
// pattern, its methods and its metrics label.
#pragma once

#include <string>
#include <vector>

#include "http/router.h"

namespace wharf::registry {

enum RouteId : int {
  kRouteOther = 0,  // unmatched requests and requests that failed to parse
  kRouteBase,
  kRouteHealthz,
  kRouteLivez,
  kRouteMetrics,
  kRouteCatalog,
  kRouteTags,
  kRouteManifest,
  kRouteUploadStart,
  kRouteUpload,
  kRouteBlob,
  kRouteReferrers,
  kRouteAdminGc,
  kRouteAdminFsck,
  kRouteAdminImport,
  kRouteAdminUsage,
  kRouteToken,
  kRouteCount,
};

struct RouteSpec {
  RouteId id;
  const char* pattern;
  uint32_t methods;
  const char* label;
};

// Every route, in match order.
const std::vector<RouteSpec>& RouteTable();
// Metric labels indexed by RouteId.
std::vector<std::string> RouteLabels();
// Builds a router over RouteTable().
void BuildRouter(http::Router* r);

}  // namespace wharf::registry
