// Stats: what one wharf-bench run measured. Single-threaded (one loop).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace wharf::bench {

class Stats {
 public:
  void Start();
  void Request(uint64_t latency_us, uint64_t body_bytes);
  void Error(const std::string& kind) { ++errors_[kind]; }
  void Verified(uint64_t bytes) { verified_bytes_ += bytes; }
  uint64_t requests() const { return requests_; }
  uint64_t bytes() const { return bytes_; }
  uint64_t error_count() const;
  double Elapsed() const;  // seconds since Start()
  // "12345 req  1.23 GB/s  4567 req/s  0 errors" for the live line.
  std::string Progress() const;
  // The final report, as text or JSON. `cpu_s` is this process's CPU time.
  std::string Report(bool json, double cpu_s) const;

 private:
  double start_ = 0;
  uint64_t requests_ = 0, bytes_ = 0, verified_bytes_ = 0;
  std::vector<uint32_t> latencies_us_;
  std::map<std::string, uint64_t> errors_;
};

double NowSeconds();

}  // namespace wharf::bench
