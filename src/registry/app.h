// Registry: the http::Handler that answers the OCI distribution API and the
// operational endpoints (/healthz, /metrics).
//
// Thread-safety: one instance serves every worker; it holds no per-request
// state, and what it shares (stores, metrics) is thread-safe.
#pragma once

#include "config/config.h"
#include "http/handler.h"
#include "http/router.h"
#include "util/metrics.h"

namespace wharf::registry {

class Registry final : public http::Handler {
 public:
  // `metrics` must outlive the registry.
  Registry(const Config& cfg, Metrics* metrics);

  BodyMode Begin(http::Exchange& ex) override;
  void Finish(http::Exchange& ex) override;

 private:
  void Answer(http::Exchange& ex);

  Config cfg_;
  Metrics* metrics_;
  http::Router router_;
};

}  // namespace wharf::registry
