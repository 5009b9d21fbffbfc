"""Debian's docker-registry (the reference registry, distribution 2.8) as an
upstream on a loopback port, with its access log for counting requests."""
import os
import re
import ssl
import subprocess
import time
import urllib.request

from conftest import free_port


class Registry:
    def __init__(self, tmp, htpasswd=None, tls=None):
        """`tls`: (certificate, key) files to serve HTTPS with."""
        self.tmp = tmp
        self.tls = tls
        os.makedirs(tmp, exist_ok=True)
        self.port = free_port()
        self.root = os.path.join(tmp, "storage")
        cfg = [
            "version: 0.1",
            "log:",
            "  level: warn",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {self.root}",
            "  delete:",
            "    enabled: true",
            "http:",
            f"  addr: 127.0.0.1:{self.port}",
        ]
        if tls:
            cfg += ["  tls:", f"    certificate: {tls[0]}", f"    key: {tls[1]}"]
        if htpasswd:
            cfg += ["auth:", "  htpasswd:", "    realm: upstream", f"    path: {htpasswd}"]
        self.config = os.path.join(tmp, "config.yml")
        with open(self.config, "w") as f:
            f.write("\n".join(cfg) + "\n")
        self.log_path = os.path.join(tmp, "registry.log")
        self.proc = None

    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self):
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(["/usr/bin/docker-registry", "serve", self.config],
                                     stdout=self.log, stderr=self.log)
        ctx = ssl.create_default_context(cafile=self.tls[0]) if self.tls else None
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url + "/v2/", timeout=1, context=ctx)
                return self
            except urllib.error.HTTPError:
                return self  # 401 with auth: it is up
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("docker-registry did not start: " + open(self.log_path).read())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def _count(self, method, path_part):
        with open(self.log_path) as f:
            text = f.read()
        return len(re.findall(r'"%s [^"]*%s[^"]*"' % (method, re.escape(path_part)), text))

    def requests(self, method, path_part):
        """How many access-log lines show `method` on a path containing
        `path_part`. The registry logs a request after its response is sent,
        so the count is read until it holds still for 200 ms."""
        last = self._count(method, path_part)
        deadline = time.time() + 5
        while time.time() < deadline:
            time.sleep(0.2)
            now = self._count(method, path_part)
            if now == last:
                return now
            last = now
        return last

    def blob_data_path(self, digest):
        hexd = digest.split(":", 1)[1]
        return os.path.join(self.root, "docker", "registry", "v2", "blobs", "sha256", hexd[:2],
                            hexd, "data")
