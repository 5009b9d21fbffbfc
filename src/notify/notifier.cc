#include "notify/notifier.h"

#include <openssl/rand.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "proxy/http_client.h"
#include "proxy/url.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/json_text.h"

namespace wharf::notify {
namespace {

constexpr size_t kBatch = 100;
// How long a clean stop waits for endpoints to take what is queued (say the
// events of a push made just before a restart, which a CI system waits for).
constexpr int64_t kDrainMs = 5000;

std::string NewUuid() {
  uint8_t b[16];
  RAND_bytes(b, sizeof b);
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += kHex[b[i] >> 4];
    s += kHex[b[i] & 15];
  }
  return s;
}

// RFC 3339 with nanoseconds, as Go's time.Time marshals.
std::string Now() {
  char buf[32];
  return std::string(buf, FormatUtcNow(buf, sizeof buf, 9));
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

struct Notifier::Endpoint {
  NotifyEndpointConfig cfg;
  proxy::Url url;
  proxy::HttpClient client;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<uint64_t, std::string>> queue;  // (sequence number, event as JSON)
  uint64_t next_seq = 0;
  bool stop = false;
  bool exited = false;  // Deliver() returned
  uint64_t sent = 0, failures = 0, dropped = 0;
  std::thread thread;

  explicit Endpoint(const NotifyEndpointConfig& c) : cfg(c), url(*proxy::Url::Parse(c.url)), client(c.ca_file) {}
};

Notifier::Notifier(const std::vector<NotifyEndpointConfig>& endpoints, std::string source_addr)
    : source_addr_(std::move(source_addr)), instance_id_(NewUuid()) {
  for (const NotifyEndpointConfig& c : endpoints) {
    auto ep = std::make_unique<Endpoint>(c);
    ep->thread = std::thread([this, p = ep.get()] { Deliver(p); });
    endpoints_.push_back(std::move(ep));
  }
}

Notifier::~Notifier() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kDrainMs);
  for (auto& ep : endpoints_) {
    std::lock_guard<std::mutex> lock(ep->mu);
    ep->stop = true;
    ep->cv.notify_all();
  }
  for (auto& ep : endpoints_) {
    {
      std::unique_lock<std::mutex> lock(ep->mu);
      ep->cv.wait_until(lock, deadline, [&] { return ep->exited; });
    }
    ep->client.Abort();  // a POST still running at the deadline ends now
    ep->thread.join();
    if (!ep->queue.empty())
      WLOG_WARN("notifications: %zu events for %s were not delivered before the stop", ep->queue.size(),
                ep->cfg.name.c_str());
  }
}

void Notifier::Emit(const Event& e) {
  std::string json_text;  // made for the first endpoint that wants it
  for (auto& ep : endpoints_) {
    if (Contains(ep->cfg.ignored_actions, e.action)) continue;
    if (!e.media_type.empty() && Contains(ep->cfg.ignored_media_types, e.media_type)) continue;
    if (json_text.empty()) {
      nlohmann::json target = {{"repository", e.repository}};
      if (!e.digest.empty()) target["digest"] = e.digest;
      if (!e.media_type.empty()) target["mediaType"] = e.media_type;
      if (e.size) target["size"] = target["length"] = e.size;
      if (!e.tag.empty()) target["tag"] = e.tag;
      if (!e.from_repository.empty()) target["fromRepository"] = e.from_repository;
      if (!e.url.empty()) target["url"] = e.url;
      nlohmann::json j = {
          {"id", NewUuid()},
          {"timestamp", Now()},
          {"action", e.action},
          {"target", target},
          {"request",
           {{"id", e.request_id}, {"addr", e.addr}, {"host", e.host}, {"method", e.method},
            {"useragent", e.user_agent}}},
          {"actor", e.actor.empty() ? nlohmann::json::object() : nlohmann::json{{"name", e.actor}}},
          {"source", {{"addr", source_addr_}, {"instanceID", instance_id_}}}};
      json_text = JsonText(j);
    }
    std::lock_guard<std::mutex> lock(ep->mu);
    if (ep->queue.size() >= kMaxPending) {
      ep->queue.pop_front();
      if (ep->dropped++ % 1000 == 0)
        WLOG_WARN("notifications: %s is %zu events behind; dropping the oldest", ep->cfg.name.c_str(),
                  kMaxPending);
    }
    ep->queue.emplace_back(ep->next_seq++, json_text);
    ep->cv.notify_one();
  }
}

void Notifier::Deliver(Endpoint* ep) {
  const int timeout_ms = static_cast<int>(std::min<uint64_t>(ep->cfg.timeout_ms, INT32_MAX));
  const proxy::Timeouts t{timeout_ms, timeout_ms, timeout_ms};
  uint32_t failed_in_a_row = 0;
  std::unique_lock<std::mutex> lock(ep->mu);
  while (true) {
    ep->cv.wait(lock, [&] { return ep->stop || !ep->queue.empty(); });
    // At a stop, what is queued still goes out (until the destructor's
    // deadline cuts the POST), but a failing endpoint gets no more tries.
    if (ep->stop && (ep->queue.empty() || failed_in_a_row)) {
      ep->exited = true;
      ep->cv.notify_all();
      return;
    }
    const size_t n = std::min(kBatch, ep->queue.size());
    std::string body = "{\"events\":[";
    for (size_t i = 0; i < n; ++i) body += (i ? "," : "") + ep->queue[i].second;
    body += "]}";
    const uint64_t last = ep->queue[n - 1].first;
    lock.unlock();
    proxy::ClientRequest req;
    req.method = "POST";
    req.url = ep->url;
    req.headers = ep->cfg.headers;
    req.headers.emplace_back("Content-Type", "application/vnd.docker.distribution.events.v1+json");
    req.body = std::move(body);
    proxy::ClientResponse resp;
    Status st = ep->client.Do(req, t, &resp, [](std::string_view) { return Status(); });
    const bool ok = st.ok() && resp.status >= 200 && resp.status < 400;
    lock.lock();
    if (ok) {
      // What was sent, less what a full queue dropped meanwhile.
      while (!ep->queue.empty() && ep->queue.front().first <= last) ep->queue.pop_front();
      ep->sent += n;
      if (failed_in_a_row)
        WLOG_INFO("notifications: %s takes events again", ep->cfg.name.c_str());
      failed_in_a_row = 0;
      continue;
    }
    ++ep->failures;
    if (failed_in_a_row++ == 0)
      WLOG_WARN("notifications: %s: %s; retrying", ep->cfg.name.c_str(),
                st.ok() ? ("answered " + std::to_string(resp.status)).c_str() : st.message().c_str());
    if (failed_in_a_row >= ep->cfg.threshold)
      ep->cv.wait_for(lock, std::chrono::milliseconds(ep->cfg.backoff_ms), [&] { return ep->stop; });
  }
}

std::string Notifier::RenderMetrics() const {
  struct Series {
    const char* name;
    const char* type;
    const char* help;
  };
  static const Series kSeries[] = {
      {"wharf_notifications_sent_total", "counter", "Events delivered to the endpoint."},
      {"wharf_notifications_failures_total", "counter", "Failed deliveries to the endpoint (each retried)."},
      {"wharf_notifications_dropped_total", "counter", "Events dropped because the endpoint's queue was full."},
      {"wharf_notifications_pending", "gauge", "Events waiting for the endpoint."}};
  std::string out;
  for (size_t s = 0; s < std::size(kSeries); ++s) {
    out += std::string("# HELP ") + kSeries[s].name + " " + kSeries[s].help + "\n# TYPE " + kSeries[s].name +
           " " + kSeries[s].type + "\n";
    for (const auto& ep : endpoints_) {
      std::lock_guard<std::mutex> lock(ep->mu);
      const uint64_t v[] = {ep->sent, ep->failures, ep->dropped, ep->queue.size()};
      out += std::string(kSeries[s].name) + "{endpoint=\"" + ep->cfg.name + "\"} " + std::to_string(v[s]) + "\n";
    }
  }
  return out;
}

}  // namespace wharf::notify
