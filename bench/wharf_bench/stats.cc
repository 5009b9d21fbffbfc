#include "stats.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace wharf::bench {

double NowSeconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

void Stats::Start() { start_ = NowSeconds(); }

void Stats::Request(uint64_t latency_us, uint64_t body_bytes) {
  ++requests_;
  bytes_ += body_bytes;
  latencies_us_.push_back(static_cast<uint32_t>(std::min<uint64_t>(latency_us, UINT32_MAX)));
}

uint64_t Stats::error_count() const {
  uint64_t n = 0;
  for (auto& [k, v] : errors_) n += v;
  return n;
}

double Stats::Elapsed() const { return NowSeconds() - start_; }

std::string Stats::Progress() const {
  char buf[160];
  double t = Elapsed();
  snprintf(buf, sizeof buf, "%8.1fs %10llu req %8.0f req/s %7.3f GB/s %6llu errors", t,
           static_cast<unsigned long long>(requests_), t > 0 ? requests_ / t : 0.0,
           t > 0 ? bytes_ / t / 1e9 : 0.0, static_cast<unsigned long long>(error_count()));
  return buf;
}

std::string Stats::Report(bool json, double cpu_s) const {
  std::vector<uint32_t> l = latencies_us_;
  std::sort(l.begin(), l.end());
  auto pct = [&](double p) -> double {
    if (l.empty()) return 0;
    size_t i = static_cast<size_t>(p * (l.size() - 1));
    return l[i] / 1000.0;
  };
  const double t = Elapsed();
  const double gbps = t > 0 ? bytes_ / t / 1e9 : 0;
  const double rps = t > 0 ? requests_ / t : 0;
  const double cpu_per_gb = bytes_ ? cpu_s / (bytes_ / 1e9) : 0;
  if (json) {
    nlohmann::json j = {{"seconds", t},
                        {"requests", requests_},
                        {"bytes", bytes_},
                        {"requests_per_second", rps},
                        {"gigabytes_per_second", gbps},
                        {"latency_ms", {{"p50", pct(0.5)}, {"p90", pct(0.9)}, {"p99", pct(0.99)},
                                        {"max", l.empty() ? 0.0 : l.back() / 1000.0}}},
                        {"errors", errors_},
                        {"verified_bytes", verified_bytes_},
                        {"client_cpu_seconds", cpu_s},
                        {"client_cpu_seconds_per_gb", cpu_per_gb}};
    return j.dump(2) + "\n";
  }
  char buf[1024];
  std::string out;
  snprintf(buf, sizeof buf,
           "requests   %llu in %.2f s (%.0f req/s)\n"
           "throughput %.3f GB/s (%llu bytes)\n"
           "latency    p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms\n"
           "verified   %llu bytes\n"
           "client CPU %.2f s (%.3f s/GB)\n",
           static_cast<unsigned long long>(requests_), t, rps, gbps,
           static_cast<unsigned long long>(bytes_), pct(0.5), pct(0.9), pct(0.99),
           l.empty() ? 0.0 : l.back() / 1000.0, static_cast<unsigned long long>(verified_bytes_),
           cpu_s, cpu_per_gb);
  out = buf;
  out += "errors    ";
  if (errors_.empty()) out += " none";
  for (auto& [k, v] : errors_) out += " " + k + "=" + std::to_string(v);
  out += "\n";
  return out;
}

}  // namespace wharf::bench
