// Micro benchmarks for the request hot path: llhttp adapter and router.
#include <benchmark/benchmark.h>

#include "http/parser.h"
#include "http/router.h"
#include "registry/routes.h"

namespace wharf::http {
namespace {

class NullEvents : public ParserEvents {
 public:
  Action OnHead(Request&) override { return Action::kContinue; }
  Action OnBody(std::string_view) override { return Action::kContinue; }
  void OnMessageComplete(Request&) override {}
};

// What docker 20.10 sends for a manifest HEAD (six Accept lines); its
// "Connection: close" is left out so one parser can be reused.
const char kDockerHead[] =
    "HEAD /v2/library/alpine/manifests/3.19 HTTP/1.1\r\n"
    "Host: 127.0.0.1:5000\r\nUser-Agent: docker/20.10.24 go/go1.19.8\r\n"
    "Accept: application/vnd.docker.distribution.manifest.v1+prettyjws\r\n"
    "Accept: application/json\r\n"
    "Accept: application/vnd.oci.image.manifest.v1+json\r\n"
    "Accept: application/vnd.docker.distribution.manifest.v2+json\r\n"
    "Accept: application/vnd.docker.distribution.manifest.list.v2+json\r\n"
    "Accept: application/vnd.oci.image.index.v1+json\r\n"
    "Accept-Encoding: gzip\r\n\r\n";

void BM_ParseDockerManifestHead(benchmark::State& state) {
  Limits limits;
  NullEvents ev;
  RequestParser p(limits, &ev);
  std::string_view in(kDockerHead, sizeof kDockerHead - 1);
  for (auto _ : state) {
    size_t used;
    auto st = p.Feed(in, &used);
    benchmark::DoNotOptimize(st);
    p.Resume();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
}
BENCHMARK(BM_ParseDockerManifestHead);

void BM_ParseSmallGet(benchmark::State& state) {
  Limits limits;
  NullEvents ev;
  RequestParser p(limits, &ev);
  std::string_view in = "GET /v2/ HTTP/1.1\r\nHost: localhost:5000\r\nUser-Agent: bench\r\n\r\n";
  for (auto _ : state) {
    size_t used;
    benchmark::DoNotOptimize(p.Feed(in, &used));
    p.Resume();
  }
}
BENCHMARK(BM_ParseSmallGet);

void BM_RouteManifest(benchmark::State& state) {
  Router r;
  registry::BuildRouter(&r);
  for (auto _ : state) {
    Router::Match m;
    benchmark::DoNotOptimize(r.Find("GET", "/v2/library/alpine/manifests/3.19", &m));
  }
}
BENCHMARK(BM_RouteManifest);

void BM_RouteDeepBlob(benchmark::State& state) {
  Router r;
  registry::BuildRouter(&r);
  std::string path =
      "/v2/org/team/project/image/blobs/"
      "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  for (auto _ : state) {
    Router::Match m;
    benchmark::DoNotOptimize(r.Find("GET", path, &m));
  }
}
BENCHMARK(BM_RouteDeepBlob);

}  // namespace
}  // namespace wharf::http

BENCHMARK_MAIN();
