// The floor under a push: what one core can do when it only receives an
// upload over loopback TCP and hashes it, writing nothing. compare.py reports
// the push throughput as a ratio to this figure and to the bare SHA-256 rate,
// both measured in the same run.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "util/digest.h"

namespace wharf {
namespace {

// The server's connection input buffer (http/connection.h, kInBufSize).
constexpr size_t kReadSize = 256 * 1024;

// Runs the sender on a core other than the receiver's, as wharf-bench runs on
// a core other than the server's; on one core it shares it.
void MoveOffCore(int receiver_cpu) {
  int n = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  if (n < 2) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c = 0; c < n; ++c)
    if (c != receiver_cpu) CPU_SET(c, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

// A connected loopback TCP pair: `rx` accepted, `tx` connected. Returns false
// when the sockets cannot be made (the benchmark then reports an error).
bool LoopbackPair(int* rx, int* tx) {
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bool ok = ls >= 0 && bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && listen(ls, 1) == 0 &&
            getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  *tx = ok ? socket(AF_INET, SOCK_STREAM, 0) : -1;
  ok = ok && *tx >= 0 && connect(*tx, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  *rx = ok ? accept(ls, nullptr, nullptr) : -1;
  if (ls >= 0) close(ls);
  return ok && *rx >= 0;
}

void BM_ReceiveAndHash(benchmark::State& state) {
  int rx = -1, tx = -1;
  if (!LoopbackPair(&rx, &tx)) {
    state.SkipWithError("no loopback TCP");
    return;
  }
  std::atomic<bool> stop{false};
  int receiver_cpu = sched_getcpu();
  std::thread sender([&] {
    MoveOffCore(receiver_cpu);
    std::string chunk(1 << 20, '\x5a');
    while (!stop.load(std::memory_order_relaxed))
      if (send(tx, chunk.data(), chunk.size(), MSG_NOSIGNAL) <= 0) break;
    shutdown(tx, SHUT_WR);
  });
  std::string buf(kReadSize, '\0');
  Hasher h;
  int64_t bytes = 0;
  // One iteration is one MiB received and hashed, so that the rate reads like
  // BM_Sha256PerMiB's.
  for (auto _ : state) {
    int64_t want = 1 << 20;
    while (want > 0) {
      ssize_t n = recv(rx, buf.data(), buf.size(), 0);
      if (n <= 0) {
        state.SkipWithError("recv failed");
        break;
      }
      h.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
      want -= n;
      bytes += n;
    }
  }
  stop = true;
  close(rx);  // unread data makes this a reset, which fails a sender blocked in send()
  sender.join();
  close(tx);
  benchmark::DoNotOptimize(h.Final());
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_ReceiveAndHash)->UseRealTime();

}  // namespace
}  // namespace wharf
