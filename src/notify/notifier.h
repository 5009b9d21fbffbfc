// Notifier: tells webhooks (notifications.endpoints) what happened in the
// registry, as the reference registry's notifications do, so that a CI
// system, an audit log or a scanner written for registry:2 works unchanged.
//
// Each event is one JSON object in the reference registry's envelope,
// POSTed as `application/vnd.docker.distribution.events.v1+json`:
//   {"events": [{"id", "timestamp", "action": "push|pull|mount|delete",
//                "target": {"mediaType", "digest", "size", "length",
//                           "repository", "url", "tag", "fromRepository"},
//                "request": {"id", "addr", "host", "method", "useragent"},
//                "actor": {"name"}, "source": {"addr", "instanceID"}}]}
// Every endpoint has its own queue and thread: a slow or dead endpoint
// delays only its own events. Delivery is in order and at least once: a
// failed POST (no answer within `timeout`, or a status outside 200-399) is
// retried, at once up to `threshold` failures in a row, then every
// `backoff`, until it succeeds. Pending events are sent together (up to 100
// per POST). A queue holds at most kMaxPending events; beyond that the
// oldest are dropped and counted. At a clean stop (the destructor) each
// endpoint has up to 5 s to take what is queued, with no retries; what is
// left then is lost, and logged. The registry's data never waits for a
// webhook: the stop comes after every request was answered and stored.
//
// Thread-safety: Emit() and RenderMetrics() may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"

namespace wharf::notify {

struct Event {
  std::string action;  // push, pull, mount, delete
  std::string repository;
  std::string digest;
  std::string url;         // where the client can get it, as it reached us
  std::string media_type;  // empty for a delete
  uint64_t size = 0;       // 0 when unknown (a delete)
  std::string tag;
  std::string from_repository;  // a mount's source
  // The request that caused it.
  std::string request_id, addr, host, method, user_agent;
  std::string actor;  // the logged-in user, empty for anonymous
};

class Notifier {
 public:
  static constexpr size_t kMaxPending = 10000;

  // `source_addr`: this registry ("hostname:port"), for the events' source.
  // Starts one thread per endpoint.
  Notifier(const std::vector<NotifyEndpointConfig>& endpoints, std::string source_addr);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Queues `e` for every endpoint that does not ignore its action or media
  // type. Never blocks on delivery.
  void Emit(const Event& e);
  // wharf_notifications_{sent,failures,dropped}_total and _pending, by endpoint.
  std::string RenderMetrics() const;

 private:
  struct Endpoint;
  void Deliver(Endpoint* ep);

  std::string source_addr_;
  std::string instance_id_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
};

}  // namespace wharf::notify
