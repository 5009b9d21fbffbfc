// Process-wide request metrics, rendered in the Prometheus text format.
//
// Counters are sharded by worker: each worker loop writes only its own shard
// with relaxed atomic adds (no contention, no locks on the hot path), and a
// scrape sums the shards. Route and method are small indices that the caller
// defines at construction; statuses are folded into a fixed table.
//
// Thread-safety: Shard::Record*/Conn* must be called only by the shard's own
// worker; Render() may run on any thread at any time.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace wharf {

class Metrics {
 public:
  static constexpr int kMaxRoutes = 16;
  static constexpr int kMethods = 8;  // GET HEAD POST PUT PATCH DELETE OPTIONS other
  static constexpr int kStatuses = 32;
  static constexpr int kBuckets = 15;  // latency bucket upper bounds, last is +Inf

  static int MethodIndex(std::string_view method);

  class Shard {
   public:
    void RecordRequest(int route, int method, int status, uint64_t bytes_in, uint64_t bytes_out,
                       uint64_t micros);
    void ConnOpened() { open_conns_.fetch_add(1, std::memory_order_relaxed); accepted_.fetch_add(1, std::memory_order_relaxed); }
    void ConnClosed() { open_conns_.fetch_sub(1, std::memory_order_relaxed); }
    void ConnRefused() { refused_.fetch_add(1, std::memory_order_relaxed); }

   private:
    friend class Metrics;
    using Counter = std::atomic<uint64_t>;
    std::array<std::array<std::array<Counter, kStatuses>, kMethods>, kMaxRoutes> requests_{};
    std::array<std::array<Counter, kBuckets>, kMaxRoutes> latency_{};
    std::array<Counter, kMaxRoutes> latency_sum_us_{};
    Counter bytes_in_{0}, bytes_out_{0};
    std::atomic<int64_t> open_conns_{0};
    Counter accepted_{0}, refused_{0};
  };

  // route_names[i] labels route index i; at most kMaxRoutes.
  Metrics(int shards, std::vector<std::string> route_names);
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  Shard& shard(int i) { return *shards_[i]; }
  int64_t OpenConnections() const;
  std::string Render() const;

 private:
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<std::string> route_names_;
};

// A label value as the Prometheus text format quotes it: `"` and `\`
// escaped, within the quotes.
std::string LabelValue(std::string_view v);

// Appends one scalar metric (HELP, TYPE and value lines) in the Prometheus
// text format. `type` is "counter" or "gauge".
void AppendScalar(std::string* out, const char* name, const char* type, const char* help,
                  uint64_t value);

}  // namespace wharf
