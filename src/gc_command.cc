#include "gc_command.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "registry/app.h"
#include "registry/gc.h"

namespace wharf {
namespace {

// Sends the request over the admin socket; returns the HTTP status and body.
int AskServer(const std::string& path, const std::string& query, std::string* body) {
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
  std::string req = "POST /admin/gc" + query +
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

}  // namespace

int GcCommand(const Config& cfg, bool dry_run, bool delete_untagged) {
  auto meta = storage::MetaStore::Open(cfg.storage.root + "/meta");
  if (meta.ok()) {
    storage::BlobStore blobs(cfg.storage.root);
    std::shared_mutex lock;
    registry::GcOptions opt{dry_run, delete_untagged,
                            int64_t{cfg.storage.gc_grace_minutes} * 60 * 1000};
    auto rep = registry::RunGc(blobs, **meta, lock, opt);
    if (!rep.ok()) {
      fprintf(stderr, "wharf gc: %s\n", rep.status().ToString().c_str());
      return 1;
    }
    printf("%s\n", rep->ToJson().c_str());
    return 0;
  }
  // Most likely a running server holds the database: ask it.
  std::string query;
  if (dry_run) query += "dry_run";
  if (delete_untagged) query += std::string(query.empty() ? "" : "&") + "delete_untagged";
  if (!query.empty()) query = "?" + query;
  std::string body;
  int status = AskServer(registry::Registry::AdminSocketPath(cfg), query, &body);
  if (status != 200) {
    fprintf(stderr, "wharf gc: cannot open %s/meta (%s) and the server did not run gc: %s\n",
            cfg.storage.root.c_str(), meta.status().message().c_str(),
            status < 0 ? body.c_str() : ("HTTP " + std::to_string(status) + " " + body).c_str());
    return 1;
  }
  printf("%s\n", body.c_str());
  return 0;
}

}  // namespace wharf
