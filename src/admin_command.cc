#include "admin_command.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <shared_mutex>
#include <string>

#include "registry/app.h"
#include "registry/fsck.h"
#include "registry/gc.h"

namespace wharf {
namespace {

// Sends POST `target` over the admin socket; returns the HTTP status and body.
int AskServer(const std::string& path, const std::string& target, std::string* body) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  if (fd < 0 || path.size() >= sizeof un.sun_path) return -1;
  memcpy(un.sun_path, path.c_str(), path.size() + 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&un), sizeof un) != 0) {
    *body = std::string("connect ") + path + ": " + strerror(errno);
    ::close(fd);
    return -1;
  }
  std::string req = "POST " + target +
                    " HTTP/1.1\r\nHost: wharf\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return -1;
  }
  std::string resp;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) resp.append(buf, static_cast<size_t>(n));
  ::close(fd);
  size_t sp = resp.find(' ');
  size_t split = resp.find("\r\n\r\n");
  if (sp == std::string::npos || split == std::string::npos) return -1;
  *body = resp.substr(split + 4);
  return atoi(resp.c_str() + sp + 1);
}

// Runs `local` on the opened database, or, when a server holds it, asks the
// server for `target`. Prints the JSON report. Returns the report (or the
// reason it could not run) for the caller's exit code.
Result<std::string> RunHere(const Config& cfg, const char* name, const std::string& target,
                            const std::function<Result<std::string>(storage::BlobStore&,
                                                                     storage::MetaStore&)>& local) {
  auto meta = storage::MetaStore::Open(cfg.storage.root + "/meta");
  if (meta.ok()) {
    storage::BlobStore blobs(cfg.storage.root);
    return local(blobs, **meta);
  }
  // Most likely a running server holds the database: ask it.
  std::string body;
  int status = AskServer(registry::Registry::AdminSocketPath(cfg), target, &body);
  if (status == 200) return body;
  std::string why = status < 0 ? body : "HTTP " + std::to_string(status) + " " + body;
  return Status(Code::kUnavailable, std::string("cannot open ") + cfg.storage.root + "/meta (" +
                                        meta.status().message() + ") and the server did not run " +
                                        name + ": " + why);
}

}  // namespace

int GcCommand(const Config& cfg, bool dry_run, bool delete_untagged) {
  std::string query;
  if (dry_run) query += "dry_run";
  if (delete_untagged) query += std::string(query.empty() ? "" : "&") + "delete_untagged";
  if (!query.empty()) query = "?" + query;
  auto out = RunHere(cfg, "gc", "/admin/gc" + query,
                     [&](storage::BlobStore& blobs, storage::MetaStore& meta) -> Result<std::string> {
                       std::shared_mutex lock;
                       registry::GcOptions opt{dry_run, delete_untagged,
                                               int64_t{cfg.storage.gc_grace_minutes} * 60 * 1000};
                       auto rep = registry::RunGc(blobs, meta, lock, opt);
                       if (!rep.ok()) return rep.status();
                       return rep->ToJson();
                     });
  if (!out.ok()) {
    fprintf(stderr, "wharf gc: %s\n", out.status().ToString().c_str());
    return 1;
  }
  printf("%s\n", out->c_str());
  return 0;
}

int FsckCommand(const Config& cfg, bool repair) {
  auto out = RunHere(cfg, "fsck", repair ? "/admin/fsck?repair" : "/admin/fsck",
                     [&](storage::BlobStore& blobs, storage::MetaStore& meta) -> Result<std::string> {
                       std::shared_mutex lock;
                       auto rep = registry::RunFsck(blobs, meta, lock, repair);
                       if (!rep.ok()) return rep.status();
                       return rep->ToJson();
                     });
  if (!out.ok()) {
    fprintf(stderr, "wharf fsck: %s\n", out.status().ToString().c_str());
    return 2;
  }
  printf("%s\n", out->c_str());
  auto j = nlohmann::json::parse(*out, nullptr, false);
  if (!j.is_object() || !j.contains("problems")) return 2;
  for (const auto& p : j["problems"])
    if (!p.value("repaired", false)) return 1;
  return 0;
}

}  // namespace wharf
