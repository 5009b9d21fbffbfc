#include "registry/app.h"

#include "registry/routes.h"

namespace wharf::registry {

using http::Exchange;
using http::Router;

namespace {

constexpr char kApiVersion[] = "registry/2.0";

std::string AllowHeader(uint32_t m) {
  static const std::pair<uint32_t, const char*> kNames[] = {
      {http::kGet, "GET"},     {http::kHead, "HEAD"},     {http::kPost, "POST"},
      {http::kPut, "PUT"},     {http::kPatch, "PATCH"},   {http::kDelete, "DELETE"},
      {http::kOptions, "OPTIONS"}};
  std::string s;
  for (auto& [bit, name] : kNames) {
    if (!(m & bit)) continue;
    if (!s.empty()) s += ", ";
    s += name;
  }
  return s;
}

}  // namespace

Registry::Registry(const Config& cfg, Metrics* metrics) : cfg_(cfg), metrics_(metrics) {
  BuildRouter(&router_);
}

Registry::BodyMode Registry::Begin(Exchange& ex) {
  http::Request& req = ex.req;
  Router::Match m;
  switch (router_.Find(req.method, req.path, &m)) {
    case Router::Outcome::kNotFound:
      ex.res.Error(404, "NOT_FOUND", "no such endpoint");
      return BodyMode::kRespond;
    case Router::Outcome::kMethodNotAllowed:
      ex.res.Error(405, "UNSUPPORTED", "method not allowed on this endpoint");
      ex.res.AddHeader("Allow", AllowHeader(m.allowed));
      return BodyMode::kRespond;
    case Router::Outcome::kFound:
      break;
  }
  req.route = m.route;
  req.params = m.params;
  // Every route so far answers from the head alone.
  Answer(ex);
  return BodyMode::kRespond;
}

void Registry::Finish(Exchange& ex) { Answer(ex); }

void Registry::Answer(Exchange& ex) {
  http::Response& res = ex.res;
  switch (ex.req.route) {
    case kRouteBase:
      res.Set(200, "application/json", "{}");
      res.AddHeader("Docker-Distribution-API-Version", kApiVersion);
      return;
    case kRouteHealthz:
      res.Set(200, "text/plain; charset=utf-8", "ok\n");
      return;
    case kRouteMetrics:
      res.Set(200, "text/plain; version=0.0.4; charset=utf-8", metrics_->Render());
      return;
    default:
      res.Error(404, "NOT_FOUND", "no such endpoint");
  }
}

}  // namespace wharf::registry
