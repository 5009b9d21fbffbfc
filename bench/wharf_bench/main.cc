// wharf-bench: load generator for container registries (Wharf, the
// reference registry, zot, Harbor, mirrors) and plain file servers.
//
//   wharf-bench blob URL [-c N] [-d SECONDS | -n COUNT] [--connection-close] [--verify] [--head]
//   wharf-bench pull URL IMAGE:TAG [-c N] [-d S | -n N] [--connection-close] [--ns REG] [--verify]
//   wharf-bench seed URL [--images N] [--layers N] [--size BYTES] [--chunked] [--prefix NAME] [--seed N]
//   wharf-bench push URL [-c N] [-n COUNT] [--size BYTES] [--chunked] [--distinct]
// Common: --tls-ca FILE, --insecure, --user U:P (Basic or Bearer token), -H "Name: value", --json, --quiet.
// URL is http(s)://host:port (blob: the full URL of one object).
#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <uv.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <mutex>
#include <thread>
#include <vector>

#include "conn.h"
#include "login.h"
#include "stats.h"
#include "util/encoding.h"

namespace wharf::bench {
namespace {

using json = nlohmann::json;

constexpr char kManifestAccept[] =
    "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

struct Options {
  std::string cmd, url, image;
  int concurrency = 1;
  double duration = 0;
  uint64_t count = 0;
  bool connection_close = false, verify = false, json = false, quiet = false, chunked = false;
  bool insecure = false;
  std::string ns, tls_ca, user, prefix = "bench/image";
  std::string authorization;  // set by Login() before the load starts
  int images = 1, layers = 3;
  uint64_t size = 1 << 20;
  uint64_t seed = 0;  // 0: random content; otherwise reproducible content
  bool head = false;  // blob: HEAD instead of GET
  bool distinct = false;  // push: every upload a different blob (fills an index)
  std::vector<std::pair<std::string, std::string>> headers;  // -H "Name: value"
};

int Usage() {
  fprintf(stderr,
          "usage: wharf-bench blob URL [-c N] [-d S|-n N] [--connection-close] [--verify] [--head]\n"
          "       wharf-bench pull URL IMAGE:TAG [-c N] [-d S|-n N] [--connection-close] [--ns REG] [--verify]\n"
          "       wharf-bench seed URL [--images N] [--layers N] [--size BYTES] [--chunked] [--prefix NAME] [--seed N]\n"
          "       wharf-bench push URL [-c N] [-n N] [--size BYTES] [--chunked] [--distinct]\n"
          "common: --tls-ca FILE --insecure --user U:P -H 'Name: value' --json --quiet\n"
          "--user is sent as Basic credentials, or used to fetch a Bearer token when the\n"
          "registry's challenge asks for one (the token realm may be another server).\n");
  return 2;
}

bool ParseArgs(int argc, char** argv, Options* o) {
  if (argc < 3) return false;
  o->cmd = argv[1];
  o->url = argv[2];
  int i = 3;
  if (o->cmd == "pull") {
    if (argc < 4) return false;
    o->image = argv[3];
    i = 4;
  }
  for (; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "-c" && (v = next())) o->concurrency = std::max(1, atoi(v));
    else if (a == "-d" && (v = next())) o->duration = atof(v);
    else if (a == "-n" && (v = next())) o->count = strtoull(v, nullptr, 10);
    else if (a == "--connection-close") o->connection_close = true;
    else if (a == "--verify") o->verify = true;
    else if (a == "--json") o->json = true;
    else if (a == "--quiet") o->quiet = true;
    else if (a == "--chunked") o->chunked = true;
    else if (a == "--insecure") o->insecure = true;
    else if (a == "--ns" && (v = next())) o->ns = v;
    else if (a == "--tls-ca" && (v = next())) o->tls_ca = v;
    else if (a == "--user" && (v = next())) o->user = v;
    else if (a == "--prefix" && (v = next())) o->prefix = v;
    else if (a == "--images" && (v = next())) o->images = atoi(v);
    else if (a == "--layers" && (v = next())) o->layers = atoi(v);
    else if (a == "--size" && (v = next())) o->size = strtoull(v, nullptr, 10);
    else if (a == "--seed" && (v = next())) o->seed = strtoull(v, nullptr, 10);
    else if (a == "--head") o->head = true;
    else if (a == "--distinct") o->distinct = true;
    else if (a == "-H" && (v = next()) && strchr(v, ':')) {
      std::string h = v;
      size_t c = h.find(':');
      o->headers.emplace_back(h.substr(0, c), h.substr(h.find_first_not_of(' ', c + 1)));
    }
    else return false;
  }
  if (!o->duration && !o->count) o->duration = 10;
  return true;
}

double CpuSeconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

// Drives a load: `start(slot)` begins work for one virtual client and must
// call `next(slot)` when that client is ready for more.
class Runner {
 public:
  // The clock starts here: the first requests are issued before Run().
  Runner(const Options& o, Stats* s) : o_(o), s_(s) {
    uv_loop_init(&loop_);
    s_->Start();
  }
  ~Runner() { uv_loop_close(&loop_); }
  uv_loop_t* loop() { return &loop_; }
  bool More() {
    if (o_.count && started_ >= o_.count) return false;
    if (o_.duration && s_->Elapsed() >= o_.duration) return false;
    ++started_;
    return true;
  }
  void Run() {
    uv_timer_init(&loop_, &tick_);
    tick_.data = this;
    if (!o_.quiet)
      uv_timer_start(&tick_, [](uv_timer_t* t) {
        auto* r = static_cast<Runner*>(t->data);
        fprintf(stderr, "\r%s", r->s_->Progress().c_str());
      }, 1000, 1000);
    uv_unref(reinterpret_cast<uv_handle_t*>(&tick_));
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    if (!o_.quiet) fprintf(stderr, "\r%s\n", s_->Progress().c_str());
  }

 private:
  const Options& o_;
  Stats* s_;
  uv_loop_t loop_;
  uv_timer_t tick_;
  uint64_t started_ = 0;
};

// Each push upload goes to its own repository.
std::string PushRepo(const Options& o, uint64_t i) { return o.prefix + "-push" + std::to_string(i); }

// The headers every request carries: -H options and the login's Authorization.
std::vector<std::pair<std::string, std::string>> AuthHeaders(const Options& o) {
  auto h = o.headers;
  if (!o.authorization.empty()) h.emplace_back("Authorization", o.authorization);
  return h;
}

// The token scopes a command needs, named as the registry will see them.
std::vector<std::string> Scopes(const Options& o, const std::string& path) {
  std::vector<std::string> out;
  if (o.cmd == "blob") {
    size_t end = path.rfind("/blobs/");
    if (end == std::string::npos) end = path.rfind("/manifests/");
    if (path.rfind("/v2/", 0) == 0 && end != std::string::npos && end > 4)
      out.push_back("repository:" + path.substr(4, end - 4) + ":pull");
  } else if (o.cmd == "pull") {
    out.push_back("repository:" + o.image.substr(0, o.image.rfind(':')) + ":pull");
  } else if (o.cmd == "seed") {
    for (int i = 0; i < o.images; ++i) out.push_back("repository:" + o.prefix + std::to_string(i) + ":pull,push");
  } else if (o.cmd == "push") {
    uint64_t n = o.count ? o.count : static_cast<uint64_t>(o.concurrency);
    for (uint64_t i = 0; i < n; ++i) out.push_back("repository:" + PushRepo(o, i) + ":pull,push");
  }
  return out;
}

std::string Suffix(const Options& o) { return o.ns.empty() ? "" : "?ns=" + o.ns; }

// ---------------------------------------------------------------- blob
int Blob(const Options& o, const Target& t, const std::string& path) {
  Stats stats;
  Runner run(o, &stats);
  std::vector<std::unique_ptr<Conn>> conns;
  std::function<void(Conn*)> go = [&](Conn* c) {
    if (!run.More()) return;
    const double t0 = NowSeconds();
    Call call;
    call.method = o.head ? "HEAD" : "GET";
    call.path = path;
    call.headers = AuthHeaders(o);
    call.verify = o.verify;
    call.close = o.connection_close;
    c->Send(call, [&, c, t0](const std::string& err, Reply& r) {
      if (!err.empty()) stats.Error(err);
      else if (r.status != 200) stats.Error("http-" + std::to_string(r.status));
      else {
        stats.Request(static_cast<uint64_t>((NowSeconds() - t0) * 1e6), r.body_bytes);
        if (o.verify) {
          size_t at = path.rfind("sha256:");
          if (at != std::string::npos && path.substr(at, 71) != r.digest) stats.Error("digest");
          else stats.Verified(r.body_bytes);
        }
      }
      go(c);
    });
  };
  for (int i = 0; i < o.concurrency; ++i) conns.push_back(std::make_unique<Conn>(run.loop(), &t));
  for (auto& c : conns) go(c.get());
  const double cpu0 = CpuSeconds();
  run.Run();
  printf("%s", stats.Report(o.json, CpuSeconds() - cpu0).c_str());
  return stats.error_count() ? 1 : 0;
}

// ---------------------------------------------------------------- pull
// One virtual client doing what `docker pull` does: ping, HEAD the tag, GET
// the manifest by digest (and a platform manifest for an index), then the
// config and layers with up to 3 in parallel.
class Puller {
 public:
  Puller(const Options& o, const Target* t, Runner* run, Stats* s) : o_(o), run_(run), s_(s) {
    for (int i = 0; i < 3; ++i) conns_.push_back(std::make_unique<Conn>(run->loop(), t));
    size_t colon = o.image.rfind(':');
    name_ = o.image.substr(0, colon);
    tag_ = colon == std::string::npos ? "latest" : o.image.substr(colon + 1);
  }
  void Start() {
    if (!run_->More()) return;
    Do(0, "GET", "/v2/", false, [this](Reply&) { HeadTag(); });
  }

 private:
  void Do(int slot, const char* method, const std::string& path, bool keep,
          std::function<void(Reply&)> then, bool verify = false) {
    Call c;
    c.method = method;
    c.path = path + (path.find('?') == std::string::npos ? Suffix(o_) : "");
    c.headers = AuthHeaders(o_);
    if (path.find("/manifests/") != std::string::npos) c.headers.emplace_back("Accept", kManifestAccept);
    c.keep_body = keep;
    c.verify = verify;
    c.close = o_.connection_close;
    const double t0 = NowSeconds();
    conns_[slot]->Send(c, [this, t0, then, method](const std::string& err, Reply& r) {
      if (!err.empty() || (r.status != 200 && !(std::string(method) == "GET" && r.status == 200))) {
        s_->Error(err.empty() ? "http-" + std::to_string(r.status) : err);
        Start();  // give up on this pull, start the next
        return;
      }
      s_->Request(static_cast<uint64_t>((NowSeconds() - t0) * 1e6), r.body_bytes);
      then(r);
    });
  }
  void HeadTag() {
    Do(0, "HEAD", "/v2/" + name_ + "/manifests/" + tag_, false, [this](Reply& r) {
      std::string d = r.Header("docker-content-digest");
      GetManifest(d.empty() ? tag_ : d, true);
    });
  }
  void GetManifest(const std::string& ref, bool top) {
    Do(0, "GET", "/v2/" + name_ + "/manifests/" + ref, true, [this, top](Reply& r) {
      json m = json::parse(r.body, nullptr, false);
      if (!m.is_object()) {
        s_->Error("manifest");
        Start();
        return;
      }
      if (top && m.contains("manifests") && m["manifests"].is_array() && !m["manifests"].empty()) {
        std::string pick = m["manifests"][0].value("digest", "");
        for (auto& d : m["manifests"])
          if (d.contains("platform") && d["platform"].value("architecture", "") == "amd64")
            pick = d.value("digest", pick);
        GetManifest(pick, false);
        return;
      }
      blobs_.clear();
      if (m.contains("config")) blobs_.push_back(m["config"].value("digest", ""));
      if (m.contains("layers") && m["layers"].is_array())
        for (auto& l : m["layers"]) blobs_.push_back(l.value("digest", ""));
      pending_ = blobs_.size();
      for (int slot = 0; slot < 3; ++slot) NextBlob(slot);
    });
  }
  void NextBlob(int slot) {
    if (blobs_.empty()) return;
    std::string d = blobs_.front();
    blobs_.pop_front();
    Do(slot, "GET", "/v2/" + name_ + "/blobs/" + d, false,
       [this, slot, d](Reply& r) {
         if (o_.verify) {
           if (r.digest != d) s_->Error("digest");
           else s_->Verified(r.body_bytes);
         }
         if (--pending_ == 0) {
           Start();
           return;
         }
         NextBlob(slot);
       },
       o_.verify);
  }

  const Options& o_;
  Runner* run_;
  Stats* s_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::string name_, tag_;
  std::deque<std::string> blobs_;
  size_t pending_ = 0;
};

int Pull(const Options& o, const Target& t) {
  Stats stats;
  Runner run(o, &stats);
  std::vector<std::unique_ptr<Puller>> pullers;
  for (int i = 0; i < o.concurrency; ++i) pullers.push_back(std::make_unique<Puller>(o, &t, &run, &stats));
  for (auto& p : pullers) p->Start();
  const double cpu0 = CpuSeconds();
  run.Run();
  printf("%s", stats.Report(o.json, CpuSeconds() - cpu0).c_str());
  return stats.error_count() ? 1 : 0;
}

// ---------------------------------------------------------------- seed / push
// Uploads `data` as a blob of `repo`, as docker does: POST to open a
// session, then either one PUT with the whole body (monolithic) or 8 MiB
// PATCHes with Content-Range and an empty PUT (chunked).
bool UploadBlob(const Options& o, uv_loop_t* loop, Conn* c, const std::string& repo,
                std::string_view data, const std::string& digest, std::string* err) {
  auto path_of = [](std::string loc) {
    if (loc.rfind("http", 0) == 0) loc = loc.substr(loc.find('/', loc.find("//") + 2));
    return loc;
  };
  Call post;
  post.method = "POST";
  post.path = "/v2/" + repo + "/blobs/uploads/";
  post.headers = AuthHeaders(o);
  Reply r = SyncCall(loop, c, post, err);
  if (!err->empty() || r.status != 202) return false;
  std::string loc = path_of(r.Header("location"));
  std::string_view rest = data;
  if (o.chunked) {
    constexpr size_t kChunk = 8 << 20;
    for (size_t off = 0; off < data.size(); off += kChunk) {
      Call patch;
      patch.method = "PATCH";
      patch.path = loc;
      patch.headers = AuthHeaders(o);
      size_t n = std::min(kChunk, data.size() - off);
      patch.body = data.substr(off, n);
      patch.headers.emplace_back("Content-Type", "application/octet-stream");
      patch.headers.emplace_back("Content-Range", std::to_string(off) + "-" + std::to_string(off + n - 1));
      r = SyncCall(loop, c, patch, err);
      if (!err->empty() || r.status != 202) return false;
      loc = path_of(r.Header("location"));
    }
    rest = {};
  }
  Call put;
  put.method = "PUT";
  put.path = loc + (loc.find('?') == std::string::npos ? "?" : "&") + "digest=" + digest;
  put.headers = AuthHeaders(o);
  put.headers.emplace_back("Content-Type", "application/octet-stream");
  put.body = rest;
  r = SyncCall(loop, c, put, err);
  return err->empty() && r.status == 201;
}

// Content for a blob: random, or reproducible from `seed` (splitmix64), so
// that several registries can be filled with identical blobs.
std::string BlobBytes(uint64_t n, uint64_t seed) {
  std::string s(n, '\0');
  if (!seed) {
    RAND_bytes(reinterpret_cast<uint8_t*>(s.data()), s.size());
    return s;
  }
  uint64_t x = seed;
  for (size_t i = 0; i < n; i += 8) {
    x += 0x9e3779b97f4a7c15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    memcpy(s.data() + i, &z, std::min<size_t>(8, n - i));
  }
  return s;
}

int Seed(const Options& o, const Target& t) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  Conn c(&loop, &t);
  json out = json::array();
  int rc = 0;
  for (int i = 0; i < o.images; ++i) {
    std::string repo = o.prefix + std::to_string(i);
    json layers = json::array();
    std::string err;
    for (int l = 0; l < o.layers; ++l) {
      std::string data = BlobBytes(o.size, o.seed ? o.seed * 1000 + i * 100 + l + 1 : 0);
      std::string d = DigestOf(data).str();
      if (!UploadBlob(o, &loop, &c, repo, data, d, &err)) rc = 1;
      layers.push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar"}, {"digest", d}, {"size", data.size()}});
    }
    std::string config = json{{"architecture", "amd64"}, {"os", "linux"}, {"seed", i}}.dump();
    std::string cd = DigestOf(config).str();
    if (!UploadBlob(o, &loop, &c, repo, config, cd, &err)) rc = 1;
    std::string manifest = json{{"schemaVersion", 2},
                                {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                {"config", {{"mediaType", "application/vnd.oci.image.config.v1+json"}, {"digest", cd}, {"size", config.size()}}},
                                {"layers", layers}}.dump();
    Call put;
    put.method = "PUT";
    put.path = "/v2/" + repo + "/manifests/latest";
    put.headers = AuthHeaders(o);
    put.headers.emplace_back("Content-Type", "application/vnd.oci.image.manifest.v1+json");
    put.body = manifest;
    Reply r = SyncCall(&loop, &c, put, &err);
    if (!err.empty() || r.status != 201) rc = 1;
    out.push_back({{"image", repo + ":latest"}, {"manifest", DigestOf(manifest).str()}, {"layers", layers}});
  }
  printf("%s\n", out.dump(o.json ? 2 : -1).c_str());
  uv_loop_close(&loop);
  return rc;
}

int Push(const Options& o, const Target& t) {
  // Precompute one blob; each upload goes to its own repository.
  std::string data = BlobBytes(o.size, o.seed);
  std::string d = DigestOf(data).str();
  Stats stats;
  uint64_t n = o.count ? o.count : static_cast<uint64_t>(o.concurrency);
  std::vector<std::thread> threads;
  std::mutex mu;
  std::atomic<uint64_t> next{0};
  const double cpu0 = CpuSeconds();
  stats.Start();
  for (int w = 0; w < o.concurrency; ++w) {
    threads.emplace_back([&] {
      uv_loop_t loop;
      uv_loop_init(&loop);
      {
        Conn c(&loop, &t);
        for (uint64_t i = next++; i < n; i = next++) {
          std::string err;
          const double t0 = NowSeconds();
          std::string own;  // --distinct: the upload number stamped over the first bytes
          std::string own_digest;
          if (o.distinct) {
            own = data;
            memcpy(own.data(), &i, std::min(sizeof i, own.size()));
            own_digest = DigestOf(own).str();
          }
          bool ok = UploadBlob(o, &loop, &c, PushRepo(o, i), o.distinct ? own : data,
                               o.distinct ? own_digest : d, &err);
          std::lock_guard<std::mutex> lock(mu);
          if (ok) stats.Request(static_cast<uint64_t>((NowSeconds() - t0) * 1e6), data.size());
          else stats.Error(err.empty() ? "upload" : err);
        }
      }
      uv_run(&loop, UV_RUN_DEFAULT);
      uv_loop_close(&loop);
    });
  }
  for (auto& th : threads) th.join();
  printf("%s", stats.Report(o.json, CpuSeconds() - cpu0).c_str());
  return stats.error_count() ? 1 : 0;
}

}  // namespace
}  // namespace wharf::bench

int main(int argc, char** argv) {
  using namespace wharf::bench;
  Options o;
  if (!ParseArgs(argc, argv, &o)) return Usage();
  signal(SIGPIPE, SIG_IGN);
  Target t;
  std::string path;
  if (!ParseUrl(o.url, &t, &path)) {
    fprintf(stderr, "wharf-bench: bad URL %s\n", o.url.c_str());
    return 2;
  }
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(nullptr, SSL_CTX_free);
  if (t.tls) {
    ctx.reset(SSL_CTX_new(TLS_client_method()));
    if (o.insecure) {
      SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    } else {
      SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
      SSL_CTX_load_verify_locations(ctx.get(), o.tls_ca.empty() ? "/etc/ssl/certs/ca-certificates.crt" : o.tls_ca.c_str(), nullptr);
    }
    t.ctx = ctx.get();
  }
  {
    uv_loop_t loop;
    uv_loop_init(&loop);
    std::string err;
    bool ok = Login(&loop, t, o.user, Scopes(o, path), &o.authorization, &err);
    uv_loop_close(&loop);
    if (!ok) {
      fprintf(stderr, "wharf-bench: login: %s\n", err.c_str());
      return 1;
    }
  }
  if (o.cmd == "blob") return Blob(o, t, path);
  if (o.cmd == "pull") return Pull(o, t);
  if (o.cmd == "seed") return Seed(o, t);
  if (o.cmd == "push") return Push(o, t);
  return Usage();
}
