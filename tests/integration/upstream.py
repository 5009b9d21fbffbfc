"""Debian's docker-registry (the reference registry, distribution 2.8) as an
upstream on a loopback port, with its access log for counting requests; and
Debian's nginx in front of one, refusing pulls as Docker Hub does past its
pull rate limit."""
import os
import re
import ssl
import subprocess
import time
import urllib.request

from conftest import free_port


def wait_for_v2(url, log_path, ctx=None):
    """Waits until `url`/v2/ answers (200, or 401 with auth)."""
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/v2/", timeout=1, context=ctx)
            return
        except urllib.error.HTTPError:
            return  # 401 with auth: it is up
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not start: " + open(log_path).read())


class Registry:
    def __init__(self, tmp, htpasswd=None, tls=None, proxy=None):
        """`tls`: (certificate, key) files to serve HTTPS with; `proxy`: the
        URL of a registry to be a pull-through cache of."""
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
        if proxy:
            cfg += ["proxy:", f"  remoteurl: {proxy}"]
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
        wait_for_v2(self.url, self.log_path, ssl.create_default_context(cafile=self.tls[0]) if self.tls else None)
        return self

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


# What Docker Hub answers an anonymous client past its pull rate limit.
RATE_LIMIT_BODY = ('{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit. '
                   'You may increase the limit by authenticating and upgrading: '
                   'https://www.docker.com/increase-rate-limit"}]}')


class RateLimitedMirror:
    """nginx in front of `registry`: /v2/ and HEADs (which Docker Hub does
    not count) are passed on; every other request gets Docker Hub's 429.
    Every answer announces the limit as Docker Hub does: 100 pulls per six
    hours, none left; with `retry_after`, a Retry-After of that many seconds
    too."""

    def __init__(self, tmp, registry, retry_after=None):
        os.makedirs(tmp, exist_ok=True)
        self.port = free_port()
        self.log_path = os.path.join(tmp, "error.log")
        conf = os.path.join(tmp, "nginx.conf")
        temp = " ".join(f"{k}_temp_path {tmp};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        with open(conf, "w") as f:
            f.write(f"""daemon off; master_process off; pid {tmp}/nginx.pid; error_log {self.log_path};
events {{ }}
http {{ access_log {tmp}/access.log; {temp}
  server {{ listen 127.0.0.1:{self.port};
    add_header RateLimit-Limit "100;w=21600" always;
    add_header RateLimit-Remaining "0;w=21600" always;
    {f'add_header Retry-After {retry_after} always;' if retry_after else ''}
    location = /v2/ {{ proxy_pass {registry.url}; }}
    location /v2/ {{
      if ($request_method != HEAD) {{ return 429 '{RATE_LIMIT_BODY}'; }}
      proxy_pass {registry.url};
    }}
    default_type application/json;
  }}
}}
""")
        self.proc = subprocess.Popen(["/usr/sbin/nginx", "-c", conf, "-p", tmp], stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        wait_for_v2(self.url, self.log_path)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
