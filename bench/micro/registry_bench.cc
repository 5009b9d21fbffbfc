// Micro benchmarks for the registry's hot paths: digests, metadata reads and
// writes in Wharf's schema, quota checks, manifest validation, TLS record
// sealing, ranges.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "registry/manifest.h"
#include "registry/quota.h"
#include "registry/range.h"
#include "storage/meta_store.h"
#include "util/digest.h"

namespace wharf {
namespace {

void BM_Sha256PerMiB(benchmark::State& state) {
  std::string mib(1 << 20, 'x');
  Hasher h;
  for (auto _ : state) h.Update(mib);
  benchmark::DoNotOptimize(h.Final());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * (1 << 20));
}
BENCHMARK(BM_Sha256PerMiB);

// "v12" and the like (built without operator+, which trips a GCC 12 warning).
std::string Name(char prefix, int i) {
  std::string s(1, prefix);
  s += std::to_string(i);
  return s;
}

// A MetaStore in a temp directory with 1000 tags in one repository.
class Meta {
 public:
  Meta() {
    char tmpl[] = "/tmp/wharf-bench-meta-XXXXXX";
    dir_ = mkdtemp(tmpl);
    store_ = std::move(*storage::MetaStore::Open(dir_ + "/meta"));
    for (int i = 0; i < 1000; ++i) {
      storage::ManifestWrite w;
      w.repo = "library/alpine";
      w.digest = DigestOf(std::to_string(i)).str();
      w.record = storage::ManifestRecord{registry::media::kOciManifest, 1234, "", "", 0};
      w.tag = Name('v', i);
      (void)store_->PutManifest(w);
    }
  }
  ~Meta() {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  storage::MetaStore& store() { return *store_; }

 private:
  std::string dir_;
  std::unique_ptr<storage::MetaStore> store_;
};

void BM_MetaGetTag(benchmark::State& state) {
  Meta m;
  int i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(m.store().GetTag("library/alpine", Name('v', i++ % 1000)));
}
BENCHMARK(BM_MetaGetTag);

void BM_MetaLinkedSizeMiss(benchmark::State& state) {
  Meta m;
  const std::string d = DigestOf("absent").str();
  for (auto _ : state) benchmark::DoNotOptimize(m.store().LinkedSize("library/alpine", d));
}
BENCHMARK(BM_MetaLinkedSizeMiss);

void BM_MetaPutManifestSynced(benchmark::State& state) {
  Meta m;
  int i = 0;
  for (auto _ : state) {
    storage::ManifestWrite w;
    w.repo = "library/busybox";
    w.digest = DigestOf(Name('m', i)).str();
    w.record = storage::ManifestRecord{registry::media::kOciManifest, 999, "", "", 0};
    w.tag = Name('t', i++);
    benchmark::DoNotOptimize(m.store().PutManifest(w));
  }
}
BENCHMARK(BM_MetaPutManifestSynced)->Iterations(200);

// A quota check (registry/quota.h) where the rule governs state.range(0)
// blob links, spread over 100 repositories, one in ten layers shared: the
// scan every push to a governed repository pays.
void BM_QuotaCheck(benchmark::State& state) {
  Meta m;
  const int links = static_cast<int>(state.range(0));
  for (int i = 0; i < links; ++i)
    (void)m.store().CommitBlob(Name('r', i % 100).insert(0, "team/"), DigestOf(std::to_string(i % 10 ? i : 0)).str(),
                               1000, storage::Origin::kPushed, "");
  const std::vector<QuotaRule> rules = {{"team", 1ull << 40}};
  const std::string d = DigestOf("new").str();
  registry::QuotaGate gate(rules, m.store());
  for (auto _ : state) benchmark::DoNotOptimize(gate.Admit("team/r1", d, 1000).ok());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * links);
}
BENCHMARK(BM_QuotaCheck)->Arg(2000)->Arg(20000)->Unit(benchmark::kMillisecond);

void BM_ParseManifest(benchmark::State& state) {
  std::string layers;
  for (int i = 0; i < 10; ++i) {
    if (i) layers += ",";
    layers += R"({"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
              DigestOf(std::to_string(i)).str() + R"(","size":123456})";
  }
  std::string body = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                     DigestOf("c").str() + R"(","size":1234},"layers":[)" + layers + "]}";
  for (auto _ : state) {
    registry::ParsedManifest m;
    registry::ManifestError e;
    benchmark::DoNotOptimize(registry::ParseManifest(body, "", &m, &e));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ParseManifest);

void BM_TlsSeal16KiB(benchmark::State& state) {
  unsigned char key[16] = {1}, iv[12] = {2}, tag[16];
  std::string in(16384, 'a'), out(16384 + 32, '\0');
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  for (auto _ : state) {
    int n = 0;
    EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), nullptr, key, iv);
    EVP_EncryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()), &n,
                      reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
    EVP_EncryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()) + n, &n);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag);
    benchmark::DoNotOptimize(tag);
  }
  EVP_CIPHER_CTX_free(ctx);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 16384);
}
BENCHMARK(BM_TlsSeal16KiB);

void BM_ParseRange(benchmark::State& state) {
  registry::ByteRange r;
  for (auto _ : state) benchmark::DoNotOptimize(registry::ParseRange("bytes=1048576-2097151", 1 << 30, &r));
}
BENCHMARK(BM_ParseRange);

}  // namespace
}  // namespace wharf
