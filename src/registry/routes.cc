#include "registry/routes.h"

namespace wharf::registry {

using namespace wharf::http;

const std::vector<RouteSpec>& RouteTable() {
  static const std::vector<RouteSpec> t = {
      {kRouteBase, "/v2/", kGet | kHead, "base"},
      {kRouteHealthz, "/healthz", kGet | kHead, "healthz"},
      {kRouteMetrics, "/metrics", kGet | kHead, "metrics"},
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
