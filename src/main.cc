// wharf: command-line entry point.
//   wharf serve [--config FILE]         run the registry
//   wharf check-config [--config FILE]  validate and print the effective config
//   wharf gc [--config FILE] [--dry-run] [--delete-untagged]
//   wharf fsck [--config FILE] [--repair]  verify every blob and reference
//   wharf usage [--config FILE] [--cached] [PREFIX]
//                                       what the hosted repositories (or the cache) hold
//   wharf import-registry [--config FILE] [--cache REGISTRY] DIR
//                                       import a reference registry's storage
//   wharf warm [--config FILE] [--platform OS/ARCH[/VARIANT]]... [--all-platforms]
//              [--file LIST] IMAGE...
//                                       fill the running server's pull-through cache
//   wharf version                       print versions
// Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration.
#include <rocksdb/version.h>
#include <uv.h>
#include <llhttp.h>
#include <openssl/crypto.h>
#include <crypt.h>
#include <xxhash.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "admin_command.h"
#include "warm_command.h"
#include "http/server.h"
#include "http/tls.h"
#include "registry/app.h"
#include "registry/routes.h"
#include "util/log.h"
#include "util/metrics.h"

namespace wharf {
namespace {

int Usage() {
  fprintf(stderr,
          "usage: wharf serve [--config FILE]\n"
          "       wharf check-config [--config FILE]\n"
          "       wharf gc [--config FILE] [--dry-run] [--delete-untagged]\n"
          "       wharf fsck [--config FILE] [--repair]\n"
          "       wharf usage [--config FILE] [--cached] [PREFIX]\n"
          "       wharf import-registry [--config FILE] [--cache REGISTRY] DIR\n"
          "       wharf warm [--config FILE] [--platform OS/ARCH[/VARIANT]]... [--all-platforms]\n"
          "                  [--file LIST] IMAGE...\n"
          "       wharf version\n");
  return 2;
}

int Version() {
  printf("wharf %s\n", WHARF_VERSION);
  printf("  libuv %s\n", uv_version_string());
  printf("  llhttp %d.%d.%d\n", LLHTTP_VERSION_MAJOR, LLHTTP_VERSION_MINOR, LLHTTP_VERSION_PATCH);
#ifdef OPENSSL_IS_BORINGSSL
  printf("  BoringSSL (API version %d)\n", BORINGSSL_API_VERSION);
#else
  printf("  %s\n", OpenSSL_version(OPENSSL_VERSION));
#endif
  printf("  RocksDB %d.%d.%d\n", ROCKSDB_MAJOR, ROCKSDB_MINOR, ROCKSDB_PATCH);
  unsigned xv = XXH_versionNumber();
  printf("  xxHash %u.%u.%u\n", xv / 10000, (xv / 100) % 100, xv % 100);
  printf("  nlohmann_json %d.%d.%d\n", NLOHMANN_JSON_VERSION_MAJOR, NLOHMANN_JSON_VERSION_MINOR,
         NLOHMANN_JSON_VERSION_PATCH);
  printf("  libxcrypt %s\n", XCRYPT_VERSION_STR);
  return 0;
}

struct Flags {
  std::string config;
  bool dry_run = false;
  bool delete_untagged = false;
  bool repair = false;
  bool cached = false;  // usage --cached
  std::string dir;    // import-registry
  std::string prefix; // usage
  std::string cache;  // import-registry --cache
  std::vector<std::string> images;     // warm
  std::vector<std::string> lists;      // warm --file
  std::vector<std::string> platforms;  // warm --platform
  bool all_platforms = false;          // warm --all-platforms
};

// Parses "[--config FILE]" and the flags of command `cmd`. False on anything else.
bool ParseFlags(int argc, char** argv, const std::string& cmd, Flags* f) {
  const bool gc = cmd == "gc";
  std::string* path = &f->config;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (gc && a == "--dry-run") {
      f->dry_run = true;
    } else if (gc && a == "--delete-untagged") {
      f->delete_untagged = true;
    } else if (cmd == "fsck" && a == "--repair") {
      f->repair = true;
    } else if ((a == "--config" || a == "-c") && i + 1 < argc) {
      *path = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      *path = a.substr(9);
    } else if (cmd == "import-registry" && a == "--cache" && i + 1 < argc) {
      f->cache = argv[++i];
    } else if (cmd == "import-registry" && f->dir.empty() && !a.empty() && a[0] != '-') {
      f->dir = a;
    } else if (cmd == "usage" && a == "--cached") {
      f->cached = true;
    } else if (cmd == "usage" && f->prefix.empty() && !a.empty() && a[0] != '-') {
      f->prefix = a;
    } else if (cmd == "warm" && a == "--platform" && i + 1 < argc) {
      f->platforms.push_back(argv[++i]);
    } else if (cmd == "warm" && a == "--file" && i + 1 < argc) {
      f->lists.push_back(argv[++i]);
    } else if (cmd == "warm" && a == "--all-platforms") {
      f->all_platforms = true;
    } else if (cmd == "warm" && !a.empty() && a[0] != '-') {
      f->images.push_back(a);
    } else {
      return false;
    }
  }
  return true;
}

int CheckConfig(const Config& cfg) {
  for (const std::string& w : cfg.ignored_env) fprintf(stderr, "wharf: warning: %s\n", w.c_str());
  printf("%s\n", Describe(cfg).c_str());
  return 0;
}

// Signal plumbing for serve: runs on the main thread's own loop.
struct Control {
  http::Server* server = nullptr;
  registry::Registry* app = nullptr;
  http::TlsProvider* tls = nullptr;
  uv_signal_t term, intr, hup;
  uv_timer_t grace;
  uv_async_t workers_done;
  uint32_t grace_seconds = 30;
  bool draining = false;
};

void CloseControl(Control* c) {
  uv_close(reinterpret_cast<uv_handle_t*>(&c->term), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->intr), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->hup), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->grace), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->workers_done), nullptr);
}

void OnStopSignal(uv_signal_t* h, int signum) {
  auto* c = static_cast<Control*>(h->data);
  if (c->draining) {
    WLOG_WARN("second %s: closing all connections now", strsignal(signum));
    c->server->CloseAll();
    return;
  }
  c->draining = true;
  WLOG_INFO("%s: draining; grace period %us", strsignal(signum), c->grace_seconds);
  c->server->Drain();
  uv_timer_start(
      &c->grace,
      [](uv_timer_t* t) {
        auto* cc = static_cast<Control*>(t->data);
        WLOG_WARN("grace period over: closing remaining connections");
        cc->server->CloseAll();
      },
      c->grace_seconds * 1000ull, 0);
}

void OnHup(uv_signal_t* h, int) {
  auto* c = static_cast<Control*>(h->data);
  c->app->Reload();
  if (c->tls) {
    Status st = c->tls->Reload();
    if (st.ok())
      WLOG_INFO("SIGHUP: TLS certificate and key reloaded; new connections use them");
    else
      WLOG_ERROR("SIGHUP: TLS reload failed, keeping the old certificate: %s", st.message().c_str());
  }
}

int Serve(const Config& cfg) {
  log::Level lv;
  log::ParseLevel(cfg.log_level, &lv);
  log::SetLevel(lv);
  signal(SIGPIPE, SIG_IGN);
  for (const std::string& w : cfg.ignored_env) WLOG_WARN("%s", w.c_str());
  if (cfg.storage.read_only) WLOG_WARN("storage.read_only: pushes and deletes are refused until it is turned off");

  int workers = cfg.http.workers ? static_cast<int>(cfg.http.workers)
                                 : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  Metrics metrics(workers + 1, registry::RouteLabels());  // + the admin socket's worker
  auto app = registry::Registry::Open(cfg, &metrics);
  if (!app.ok()) {
    fprintf(stderr, "wharf: %s\n", app.status().message().c_str());
    return 1;
  }
  std::unique_ptr<http::TlsProvider> tls;
  if (!cfg.http.tls_certificate.empty()) {
    tls = std::make_unique<http::TlsProvider>(
        http::TlsFiles{cfg.http.tls_certificate, cfg.http.tls_key, cfg.http.tls_client_cas, cfg.http.tls13_only});
    Status tst = tls->Reload();
    if (!tst.ok()) {
      fprintf(stderr, "wharf: %s\n", tst.message().c_str());
      return 2;
    }
  }
  const std::string admin = registry::Registry::AdminSocketPath(cfg);
  http::Server server(cfg.http, workers, app->get(), &metrics, admin, tls.get());
  Status st = server.Listen();
  if (!st.ok()) {
    fprintf(stderr, "wharf: %s\n", st.message().c_str());
    return 2;
  }

  uv_loop_t* loop = uv_default_loop();
  Control ctl;
  ctl.server = &server;
  ctl.tls = tls.get();
  ctl.app = app->get();
  ctl.grace_seconds = cfg.http.shutdown_grace_seconds;
  for (uv_signal_t* s : {&ctl.term, &ctl.intr, &ctl.hup}) {
    uv_signal_init(loop, s);
    s->data = &ctl;
  }
  uv_signal_start(&ctl.term, OnStopSignal, SIGTERM);
  uv_signal_start(&ctl.intr, OnStopSignal, SIGINT);
  uv_signal_start(&ctl.hup, OnHup, SIGHUP);
  uv_timer_init(loop, &ctl.grace);
  ctl.grace.data = &ctl;
  uv_async_init(loop, &ctl.workers_done, [](uv_async_t* a) {
    CloseControl(static_cast<Control*>(a->data));
  });
  ctl.workers_done.data = &ctl;

  server.Start();
  WLOG_INFO("wharf %s listening on %s:%u (%s, %d workers, storage %s)", WHARF_VERSION,
            cfg.http.host.c_str(), server.port(), tls ? "https" : "http", workers,
            cfg.storage.root.c_str());
  if (tls && !cfg.http.plain_addr.empty())
    WLOG_INFO("plain http also on %s", cfg.http.plain_addr.c_str());
  std::thread joiner([&] {
    server.Join();
    uv_async_send(&ctl.workers_done);
  });
  uv_run(loop, UV_RUN_DEFAULT);
  joiner.join();
  uv_loop_close(loop);
  ::unlink(admin.c_str());
  WLOG_INFO("stopped");
  return 0;
}

}  // namespace
}  // namespace wharf

int main(int argc, char** argv) {
  using namespace wharf;
  if (argc < 2) return Usage();
  std::string cmd = argv[1];
  if (cmd == "version" || cmd == "--version") return Version();
  if (cmd != "serve" && cmd != "check-config" && cmd != "gc" && cmd != "fsck" && cmd != "import-registry" &&
      cmd != "usage" && cmd != "warm")
    return Usage();
  Flags flags;
  if (!ParseFlags(argc, argv, cmd, &flags) || (cmd == "import-registry" && flags.dir.empty()) ||
      (cmd == "warm" && flags.images.empty() && flags.lists.empty()))
    return Usage();
  Result<Config> cfg = Load(flags.config, ProcessEnv());
  if (!cfg.ok()) {
    fprintf(stderr, "wharf: %s\n", cfg.status().message().c_str());
    return 2;
  }
  if (cmd == "check-config") return CheckConfig(*cfg);
  if (cmd == "gc") return GcCommand(*cfg, flags.dry_run, flags.delete_untagged);
  if (cmd == "fsck") return FsckCommand(*cfg, flags.repair);
  if (cmd == "import-registry") return ImportCommand(*cfg, flags.dir, flags.cache);
  if (cmd == "usage") return UsageCommand(*cfg, flags.prefix, flags.cached);
  if (cmd == "warm") return WarmCommand(*cfg, flags.images, flags.lists, flags.platforms, flags.all_platforms);
  return Serve(*cfg);
}
