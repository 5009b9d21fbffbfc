"""Shared fixtures: start the real wharf binary on a free loopback port.

WHARF_BIN points at the binary under test (set by tests/run.sh); each test
gets its own storage directory and its own server process.
"""
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

WHARF_BIN = os.environ.get("WHARF_BIN", os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "src", "wharf"))
# The load tool of the same build (built in the release configuration only).
WHARF_BENCH = os.path.join(os.path.dirname(WHARF_BIN), "..", "bench", "wharf-bench")


# Empty files that a proxying Wharf keeps ready in <root>/tmp for its next
# cache fills (BlobStore::KeepSpares, kSpareFiles in blob_fetcher.cc).
SPARE_FILES = 4


def partial_files(root):
    """Files in <root>/tmp that are not spares: any with content, and any
    empty ones beyond the number of spares."""
    tmp = os.path.join(root, "tmp")
    names = sorted(os.listdir(tmp))
    full = [n for n in names if os.path.getsize(os.path.join(tmp, n)) > 0]
    empty = [n for n in names if n not in full]
    return full + empty[SPARE_FILES:]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Wharf:
    def __init__(self, tmp_path, env=None, config=None, args=None):
        self.tmp = tmp_path
        self.port = free_port()
        self.root = str(tmp_path / "data")
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "REGISTRY_HTTP_ADDR": f"127.0.0.1:{self.port}",
            "WHARF_STORAGE_ROOT": self.root,
            "WHARF_WORKERS": "2",
            # The embedded default proxies docker.io; tests never leave
            # loopback, so proxy tests configure a local upstream instead.
            "WHARF_PROXY_ENABLED": "false",
        }
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                self.env[k] = os.environ[k]
        self.env.update(env or {})
        self.args = [WHARF_BIN, "serve"] + (args or [])
        if config is not None:
            cfg = tmp_path / "wharf.json"
            cfg.write_text(config)
            self.args += ["--config", str(cfg)]
        self.out = open(tmp_path / "wharf.stdout", "w+")
        self.err = open(tmp_path / "wharf.stderr", "w+")
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=self.out, stderr=self.err)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("wharf exited early: " + self.stderr())
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("wharf did not become ready: " + self.stderr())

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        return self.proc.returncode if self.proc else None

    def stderr(self):
        self.err.flush()
        self.err.seek(0)
        return self.err.read()

    def stdout(self):
        self.out.flush()
        self.out.seek(0)
        return self.out.read()

    def status_kb(self, field):
        """A size from /proc/PID/status, in KiB (VmRSS, VmHWM, RssAnon...)."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def rss_kb(self):
        return self.status_kb("VmRSS")

    def hwm_kb(self):
        return self.status_kb("VmHWM")

    def connect(self, timeout=10):
        return Conn(socket.create_connection(("127.0.0.1", self.port), timeout=timeout))


@pytest.fixture
def make_wharf(tmp_path):
    servers = []

    def make(**kw):
        sub = tmp_path / f"w{len(servers)}"
        sub.mkdir()
        w = Wharf(sub, **kw)
        servers.append(w)
        return w

    yield make
    for w in servers:
        if w.proc and w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait()
        assert "AddressSanitizer" not in w.stderr(), w.stderr()
        assert "runtime error:" not in w.stderr(), w.stderr()


@pytest.fixture
def wharf(make_wharf):
    return make_wharf().start()


class Conn:
    """A raw client connection with a read buffer, for byte-exact tests."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def sendall(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed; buffered %r" % self.buf[:200])
        self.buf += chunk

    def recv(self, n):
        """Buffered bytes first, then the socket (b"" means EOF)."""
        if self.buf:
            d, self.buf = self.buf[:n], self.buf[n:]
            return d
        return self.sock.recv(n)

    def response(self, head_only=False):
        """Reads one response: (status, lowercased headers, body). Honours
        Content-Length; with head_only (HEAD) no body is read."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for l in lines[1:]:
            k, v = l.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        if head_only or status in (100, 204, 304):
            return status, headers, b""
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body


def read_response(conn, head_only=False):
    return conn.response(head_only)


def curl(*args, check=True):
    """Runs curl -s and returns CompletedProcess (stdout as bytes)."""
    r = subprocess.run(["curl", "-sS", "--path-as-is", "--max-time", "120", *args],
                       capture_output=True)
    if check and r.returncode != 0:
        raise AssertionError(f"curl {args} failed: {r.stderr.decode()}")
    return r


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        import json as _json
        return _json.loads(self.body)

    def code(self):
        """The first OCI error code of an error body."""
        return self.json()["errors"][0]["code"]

    def __repr__(self):
        return f"<{self.status} {self.headers} {self.body[:300]!r}>"


def call(method, url, data=None, headers=None, upload_file=None):
    """One request with curl. `data` (bytes) is sent as the body; returns Resp
    with lowercased header names (the last response head if there were 1xx)."""
    import tempfile
    args = ["-X", method]
    for k, v in (headers or {}).items():
        args += ["-H", f"{k}: {v}"]
    with tempfile.TemporaryDirectory() as td:
        hfile, bfile = os.path.join(td, "h"), os.path.join(td, "b")
        if data is not None:
            dfile = os.path.join(td, "d")
            with open(dfile, "wb") as f:
                f.write(data)
            args += ["--data-binary", "@" + dfile]
            if not any(k.lower() == "content-type" for k in (headers or {})):
                args += ["-H", "Content-Type:"]
        if upload_file:
            args += ["-T", upload_file]
        if method == "HEAD":
            args = ["-I"] + args[2:]
        curl("-D", hfile, "-o", bfile, *args, url)
        heads = open(hfile, "rb").read().decode("latin-1").split("\r\n\r\n")
        heads = [h for h in heads if h.strip()]
        last = heads[-1].split("\r\n")
        status = int(last[0].split()[1])
        hdrs = {}
        for l in last[1:]:
            if ":" in l:
                k, v = l.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
        body = open(bfile, "rb").read() if os.path.exists(bfile) and method != "HEAD" else b""
        return Resp(status, hdrs, body)
