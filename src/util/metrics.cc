#include "util/metrics.h"

#include <algorithm>
#include <cstdio>
#include <string_view>

namespace wharf {
namespace {

constexpr const char* kMethodNames[Metrics::kMethods] = {"GET",   "HEAD",   "POST",    "PUT",
                                                         "PATCH", "DELETE", "OPTIONS", "OTHER"};

// Statuses a registry answers with; anything else is folded into its class
// ("1xx".."5xx") in the last five slots.
constexpr int kKnown[] = {100, 200, 201, 202, 204, 206, 301, 302, 304, 307, 400, 401, 403, 404,
                          405, 408, 409, 413, 414, 416, 429, 431, 500, 502, 503, 504};
constexpr int kNumKnown = sizeof kKnown / sizeof kKnown[0];
static_assert(kNumKnown + 5 <= Metrics::kStatuses);

int StatusIndex(int status) {
  for (int i = 0; i < kNumKnown; ++i)
    if (kKnown[i] == status) return i;
  int cls = status / 100;
  if (cls < 1 || cls > 5) cls = 5;
  return kNumKnown + cls - 1;
}

std::string StatusLabel(int idx) {
  if (idx < kNumKnown) return std::to_string(kKnown[idx]);
  return std::to_string(idx - kNumKnown + 1) + "xx";
}

constexpr uint64_t kBucketMicros[Metrics::kBuckets - 1] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,
    5000000, 10000000};

}  // namespace

std::string LabelValue(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

void AppendScalar(std::string* out, const char* name, const char* type, const char* help,
                  uint64_t value) {
  *out += "# HELP ";
  *out += name;
  *out += ' ';
  *out += help;
  *out += "\n# TYPE ";
  *out += name;
  *out += ' ';
  *out += type;
  *out += '\n';
  *out += name;
  *out += ' ';
  *out += std::to_string(value);
  *out += '\n';
}

int Metrics::MethodIndex(std::string_view m) {
  for (int i = 0; i < kMethods - 1; ++i)
    if (m == kMethodNames[i]) return i;
  return kMethods - 1;
}

void Metrics::Shard::RecordRequest(int route, int method, int status, uint64_t bytes_in,
                                   uint64_t bytes_out, uint64_t micros) {
  constexpr auto r = std::memory_order_relaxed;
  requests_[route][method][StatusIndex(status)].fetch_add(1, r);
  int b = 0;
  while (b < kBuckets - 1 && micros > kBucketMicros[b]) ++b;
  latency_[route][b].fetch_add(1, r);
  latency_sum_us_[route].fetch_add(micros, r);
  bytes_in_.fetch_add(bytes_in, r);
  bytes_out_.fetch_add(bytes_out, r);
}

Metrics::Metrics(int shards, std::vector<std::string> route_names)
    : route_names_(std::move(route_names)) {
  if (route_names_.size() > kMaxRoutes) route_names_.resize(kMaxRoutes);
  for (int i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>());
}

int64_t Metrics::OpenConnections() const {
  int64_t n = 0;
  for (auto& s : shards_) n += s->open_conns_.load(std::memory_order_relaxed);
  return n;
}

std::string Metrics::Render() const {
  constexpr auto r = std::memory_order_relaxed;
  std::string out;
  out.reserve(8192);
  char line[256];
  out +=
      "# HELP wharf_http_requests_total HTTP requests answered, by route, method and status.\n"
      "# TYPE wharf_http_requests_total counter\n";
  for (size_t ro = 0; ro < route_names_.size(); ++ro) {
    for (int m = 0; m < kMethods; ++m) {
      for (int s = 0; s < kStatuses; ++s) {
        uint64_t n = 0;
        for (auto& sh : shards_) n += sh->requests_[ro][m][s].load(r);
        if (n == 0) continue;
        snprintf(line, sizeof line,
                 "wharf_http_requests_total{route=\"%s\",method=\"%s\",status=\"%s\"} %llu\n",
                 route_names_[ro].c_str(), kMethodNames[m], StatusLabel(s).c_str(),
                 static_cast<unsigned long long>(n));
        out += line;
      }
    }
  }
  out +=
      "# HELP wharf_http_request_duration_seconds Time from request head to response end.\n"
      "# TYPE wharf_http_request_duration_seconds histogram\n";
  for (size_t ro = 0; ro < route_names_.size(); ++ro) {
    uint64_t cum = 0, sum_us = 0;
    for (auto& sh : shards_) sum_us += sh->latency_sum_us_[ro].load(r);
    for (int b = 0; b < kBuckets; ++b) {
      for (auto& sh : shards_) cum += sh->latency_[ro][b].load(r);
      if (b < kBuckets - 1)
        snprintf(line, sizeof line,
                 "wharf_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                 route_names_[ro].c_str(), kBucketMicros[b] / 1e6,
                 static_cast<unsigned long long>(cum));
      else
        snprintf(line, sizeof line,
                 "wharf_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                 route_names_[ro].c_str(), static_cast<unsigned long long>(cum));
      out += line;
    }
    snprintf(line, sizeof line,
             "wharf_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
             "wharf_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
             route_names_[ro].c_str(), sum_us / 1e6, route_names_[ro].c_str(),
             static_cast<unsigned long long>(cum));
    out += line;
  }
  uint64_t in = 0, outb = 0, acc = 0, ref = 0;
  for (auto& sh : shards_) {
    in += sh->bytes_in_.load(r);
    outb += sh->bytes_out_.load(r);
    acc += sh->accepted_.load(r);
    ref += sh->refused_.load(r);
  }
  AppendScalar(&out, "wharf_http_received_bytes_total", "counter",
               "Request bytes received (head and body).", in);
  AppendScalar(&out, "wharf_http_sent_bytes_total", "counter",
               "Response bytes sent (head and body).", outb);
  AppendScalar(&out, "wharf_http_open_connections", "gauge", "Client connections open now.",
               static_cast<uint64_t>(std::max<int64_t>(0, OpenConnections())));
  AppendScalar(&out, "wharf_http_connections_total", "counter", "Client connections accepted.",
               acc);
  AppendScalar(&out, "wharf_http_connections_refused_total", "counter",
               "Connections refused at the connection limit.", ref);
  return out;
}

}  // namespace wharf
