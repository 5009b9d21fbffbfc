"""Resource exhaustion: a full disk, many connections, slow peers, running
out of file descriptors. Each must end in clean errors for the requests that
cannot be served, and nothing else: stored content stays intact and the
server keeps serving."""
import hashlib
import json
import os
import re
import resource
import socket
import subprocess
import threading
import time
import types

import pytest

from conftest import Conn, call, curl, partial_files
from images import sha256 as sha
from relay import PausingRelay
from test_api import push_blob, simple_image
from test_proxy import big_file, on_disk, proxy_env, push_raw_blob, upstream  # noqa: F401 (fixture)

# tests/run.sh sets WHARF_SANITIZED to 1 for the ASan+UBSan build, 0 otherwise.
SANITIZED = os.environ.get("WHARF_SANITIZED") == "1"


def code_of(r):
    return json.loads(r.body)["errors"][0]["code"]


def tmpfs(tmp_path, size):
    """A tmpfs of `size` under tmp_path (needs root; skips the test otherwise).
    A generator: the caller's fixture yields from it."""
    d = tmp_path / f"disk-{size}"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(d)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: " + r.stderr.decode().strip())
    yield str(d)
    subprocess.run(["umount", "-l", str(d)])


@pytest.fixture
def small_disk(tmp_path):
    """A 64 MiB tmpfs as the storage root."""
    yield from tmpfs(tmp_path, "64m")


@pytest.fixture
def mid_disk(tmp_path):
    """A 384 MiB tmpfs: room for a blob larger than one 64 MiB disk reservation
    (and for RocksDB, which preallocates its log)."""
    yield from tmpfs(tmp_path, "384m")


def leftovers(root):
    return partial_files(root), os.listdir(os.path.join(root, "uploads"))


def test_disk_full(make_wharf, small_disk, upstream, tmp_path):
    up = upstream()
    big = big_file(tmp_path, 80)
    big_digest = push_raw_blob(up, "library/huge", big)
    w = make_wharf(env=proxy_env(up.url, WHARF_STORAGE_ROOT=small_disk + "/root")).start()
    root = w.env["WHARF_STORAGE_ROOT"]
    md, body, cd, ld = simple_image(w, "keep")

    # A monolithic upload larger than the disk: a clean 507, nothing left behind.
    big_bytes = open(big, "rb").read()
    r = call("POST", f"{w.url}/v2/app/blobs/uploads/?digest={big_digest}", big_bytes)
    assert r.status == 507 and code_of(r) == "STORAGE_FULL", r
    assert leftovers(root) == ([], [])

    # A chunk that does not fit: refused, and the upload stays resumable at
    # the last good offset.
    r = call("POST", f"{w.url}/v2/app/blobs/uploads/")
    loc = r.headers["location"]
    first = os.urandom(1 << 20)
    r = call("PATCH", w.url + loc, first, {"Content-Range": f"0-{len(first) - 1}"})
    assert r.status == 202
    r = call("PATCH", w.url + r.headers["location"], big_bytes)
    assert r.status == 507 and code_of(r) == "STORAGE_FULL", r
    r = call("GET", w.url + loc)
    assert r.status == 204 and r.headers["range"] == f"0-{len(first) - 1}"
    rest = b"the end"
    r = call("PATCH", w.url + loc, rest, {"Content-Range": f"{len(first)}-{len(first) + len(rest) - 1}"})
    assert r.status == 202
    r = call("PUT", f"{w.url}{r.headers['location']}&digest={sha(first + rest)}"
             if "?" in r.headers["location"] else f"{w.url}{r.headers['location']}?digest={sha(first + rest)}")
    assert r.status == 201, r

    # A chunk announcing more than the disk can hold: refused from its headers,
    # before the client has sent any of its body.
    r = call("POST", f"{w.url}/v2/app/blobs/uploads/")
    c = Conn(socket.create_connection(("127.0.0.1", w.port), timeout=5))
    c.sendall(f"PATCH {r.headers['location']} HTTP/1.1\r\nHost: x\r\n"
              f"Content-Length: {1 << 30}\r\n\r\n".encode())
    status, _, answer = c.response()
    c.close()
    assert status == 507 and json.loads(answer)["errors"][0]["code"] == "STORAGE_FULL", answer

    # A proxied blob that cannot be cached: refused before the first byte,
    # so the client gets a clean error rather than a cut stream.
    r = call("GET", f"{w.url}/v2/library/huge/blobs/{big_digest}")
    assert r.status == 507 and code_of(r) == "STORAGE_FULL", r
    assert leftovers(root)[0] == []

    # Everything stored before is intact and still served; writes work again.
    assert call("GET", f"{w.url}/v2/keep/manifests/v1").body == body
    assert call("GET", f"{w.url}/v2/keep/blobs/{ld}").status == 200
    assert push_blob(w, "app", b"small enough") == sha(b"small enough")
    assert_fsck_clean(w)
    assert "storage full" in w.stderr()


def mirror_full_of_cache(make_wharf, disk, upstream, tmp_path, size=4 << 20, count=16,
                         keep_free=(4 << 20) + (16 << 20)):
    """A mirror on `disk` with a pushed 4 MiB blob, then cached blobs of
    `size` until less than `keep_free` is left (by default: until the next
    one no longer fits beside the 16 MiB reserve). Returns (wharf, pushed
    digest, cached digests oldest first, uncached digests)."""
    up = upstream()
    digests = random_blobs(up, tmp_path, "layer", [size] * count)
    w = make_wharf(env=proxy_env(up.url, WHARF_STORAGE_ROOT=disk + "/root")).start()
    hosted = push_blob(w, "mine", os.urandom(4 << 20))
    cached = []
    for d in digests:
        if free_bytes(disk) < keep_free:
            break
        cache(w, d)
        cached.append(d)
    assert len(cached) >= 5 and "eviction" not in w.stderr()
    return w, hosted, cached, digests[len(cached):]


def random_blobs(up, tmp_path, name, sizes):
    """Blobs of random bytes, one per size, pushed to `up` as library/many.
    Returns their digests."""
    digests = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"{name}{i}"
        path.write_bytes(os.urandom(size))
        digests.append(push_raw_blob(up, "library/many", str(path)))
    return digests


def cache(w, d):
    """Pulls blob `d` of library/many through mirror `w`, then waits a moment
    so that the next one cached is younger."""
    r = call("GET", f"{w.url}/v2/library/many/blobs/{d}")
    assert r.status == 200 and sha(r.body) == d
    time.sleep(0.05)


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def assert_fsck_clean(w):
    r = subprocess.run([w.args[0], "fsck"], env=w.env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_full_disk_evicts_cached_blobs_for_a_new_fill(make_wharf, small_disk, upstream, tmp_path):
    """A mirror whose disk is full of cached blobs makes room for the next one
    (least recently used first) instead of refusing it; pushed content stays."""
    w, hosted, cached, (nxt, *_) = mirror_full_of_cache(make_wharf, small_disk, upstream, tmp_path)
    r = call("GET", f"{w.url}/v2/library/many/blobs/{nxt}")
    assert r.status == 200 and sha(r.body) == nxt, r
    assert "eviction: removed 1 cached blobs" in w.stderr() and "had no room" in w.stderr()
    assert not on_disk(w, cached[0])  # the least recently used went
    assert all(on_disk(w, d) for d in cached[1:] + [nxt, hosted])
    # The evicted blob is fetched again when asked for.
    r = call("GET", f"{w.url}/v2/library/many/blobs/{cached[0]}")
    assert r.status == 200 and sha(r.body) == cached[0]
    assert_fsck_clean(w)


@pytest.mark.parametrize("how", ["monolithic", "chunk"])
def test_full_disk_evicts_cached_blobs_for_a_push(make_wharf, small_disk, upstream, tmp_path, how):
    """Pushed content outranks cached content: a push that does not fit on a
    disk full of cached blobs evicts them, as a monolithic POST or a chunk."""
    w, hosted, cached, _ = mirror_full_of_cache(make_wharf, small_disk, upstream, tmp_path)
    data = os.urandom(free_bytes(small_disk) + (2 << 20))
    if how == "monolithic":
        assert push_blob(w, "mine", data) == sha(data)
    else:
        r = call("POST", f"{w.url}/v2/mine/blobs/uploads/")
        r = call("PATCH", w.url + r.headers["location"], data, {"Content-Range": f"0-{len(data) - 1}"})
        assert r.status == 202, r
        loc = r.headers["location"]
        r = call("PUT", f"{w.url}{loc}{'&' if '?' in loc else '?'}digest={sha(data)}")
        assert r.status == 201, r
    assert "had no room" in w.stderr()
    assert not on_disk(w, cached[0])  # the least recently used went first
    assert on_disk(w, hosted) and on_disk(w, sha(data))
    assert_fsck_clean(w)


def test_full_disk_evicts_cached_blobs_for_a_streamed_push(make_wharf, small_disk, upstream, tmp_path):
    """docker sends a layer as one PATCH without a length (chunked transfer
    encoding). When the disk fills under it, the body pauses while cached
    blobs make way, then goes on: every byte arrives, pushed content stays."""
    w, hosted, cached, _ = mirror_full_of_cache(make_wharf, small_disk, upstream, tmp_path)
    data = os.urandom(free_bytes(small_disk) + (2 << 20))
    layer = tmp_path / "streamed"
    layer.write_bytes(data)
    loc = call("POST", f"{w.url}/v2/mine/blobs/uploads/").headers["location"]
    r = curl("-X", "PATCH", "-H", "Transfer-Encoding: chunked", "-H", "Content-Type: application/octet-stream",
             "--data-binary", f"@{layer}", "-o", "/dev/null", "-w", "%{http_code}", w.url + loc)
    assert r.stdout == b"202", r
    assert call("GET", w.url + loc).headers["range"] == f"0-{len(data) - 1}"
    r = call("PUT", f"{w.url}{loc}{'&' if '?' in loc else '?'}digest={sha(data)}")
    assert r.status == 201, r
    assert "had no room" in w.stderr()
    assert not on_disk(w, cached[0])
    assert on_disk(w, hosted) and on_disk(w, sha(data))
    assert call("GET", f"{w.url}/v2/mine/blobs/{sha(data)}").body == data
    assert_fsck_clean(w)


def test_streamed_push_over_tls_with_auth_evicts_for_room(make_wharf, small_disk, upstream, tmp_path):
    """The same with the classic TLS + htpasswd setup: the login check pauses
    the request before its body and the full disk pauses it in the middle;
    TLS may hold bytes that poll cannot see, and none may be lost."""
    from test_tls_auth import PASSWORD, USER, classic, tcurl
    up = upstream()
    digests = random_blobs(up, tmp_path, "layer", [4 << 20] * 16)
    w = classic(make_wharf, tmp_path, proxy_env(up.url, WHARF_STORAGE_ROOT=small_disk + "/root"))
    creds = ["-u", f"{USER}:{PASSWORD}"]
    cached = []
    for d in digests:
        if free_bytes(small_disk) < (4 << 20) + (16 << 20):
            break
        assert sha(tcurl(w, *creds, f"{w.https}/v2/library/many/blobs/{d}").stdout) == d
        cached.append(d)
        time.sleep(0.05)
    data = os.urandom(free_bytes(small_disk) + (2 << 20))
    layer = tmp_path / "streamed"
    layer.write_bytes(data)
    r = tcurl(w, *creds, "-X", "POST", "-D", "-", "-o", "/dev/null", f"{w.https}/v2/mine/blobs/uploads/")
    loc = re.search(rb"(?i)^location: (\S+)", r.stdout, re.M).group(1).decode()
    r = tcurl(w, *creds, "-X", "PATCH", "-H", "Transfer-Encoding: chunked", "--data-binary", f"@{layer}",
              "-o", "/dev/null", "-w", "%{http_code}", w.https + loc)
    assert r.stdout == b"202", w.stderr()
    r = tcurl(w, *creds, "-X", "PUT", "-o", "/dev/null", "-w", "%{http_code}",
              f"{w.https}{loc}{'&' if '?' in loc else '?'}digest={sha(data)}")
    assert r.stdout == b"201", w.stderr()
    assert "had no room" in w.stderr() and not on_disk(w, cached[0])
    assert tcurl(w, *creds, f"{w.https}/v2/mine/blobs/{sha(data)}").stdout == data
    assert_fsck_clean(w)


def test_push_that_runs_out_of_disk_midway_evicts_and_completes(make_wharf, mid_disk, upstream, tmp_path):
    """A push whose first reservation fits but whose whole length does not:
    the shortage comes mid-body, and cached blobs make way for the rest."""
    w, hosted, cached, _ = mirror_full_of_cache(make_wharf, mid_disk, upstream, tmp_path,
                                                size=16 << 20, count=22, keep_free=100 << 20)
    assert free_bytes(mid_disk) >= (64 << 20) + (16 << 20)  # the first 64 MiB window fits
    data = os.urandom(free_bytes(mid_disk) + (8 << 20))
    assert push_blob(w, "mine", data) == sha(data)
    assert "had no room" in w.stderr()
    assert not on_disk(w, cached[0])
    assert on_disk(w, hosted) and on_disk(w, sha(data))
    assert_fsck_clean(w)


def test_fill_that_runs_out_of_disk_midway_evicts_and_completes(make_wharf, mid_disk, upstream, tmp_path):
    """Another writer takes the disk while a fill is under way: the fill evicts
    cached blobs for the rest instead of cutting its client off."""
    up = upstream()
    *cached, large = random_blobs(up, tmp_path, "blob", [40 << 20] * 3 + [100 << 20])
    relay = PausingRelay(up.port, after=32 << 20)
    try:
        w = make_wharf(env=proxy_env(relay.url, WHARF_STORAGE_ROOT=mid_disk + "/root")).start()
        for d in cached:
            cache(w, d)
        relay.armed = True
        got = {}

        def fetch():
            try:
                got["r"] = call("GET", f"{w.url}/v2/library/many/blobs/{large}")
            except AssertionError as e:  # curl failed: e.g. the stream was cut off
                got["error"] = str(e)
        pull = threading.Thread(target=fetch)
        pull.start()
        assert relay.paused.wait(30), (got, w.stderr()[-2000:])
        # The fill has reserved its first 64 MiB; a push now takes all but
        # 20 MiB, less than the other 36 MiB need.
        hosted = push_blob(w, "mine", os.urandom(free_bytes(mid_disk) - (20 << 20)))
        relay.release.set()
        pull.join(60)
        assert "r" in got, got
        r = got["r"]
        assert r.status == 200 and sha(r.body) == large
        asked = [int(n) for n in re.findall(r"had no room for (\d+) bytes", w.stderr())]
        assert asked and all(n < (100 << 20) for n in asked), asked  # mid-stream, for the rest
        assert not on_disk(w, cached[0])  # the least recently used went
        assert all(on_disk(w, d) for d in cached[1:] + [large, hosted])
        assert_fsck_clean(w)
    finally:
        relay.close()


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {want}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    return soft, hard


def open_idle(port, n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.connect(("127.0.0.1", port))
        socks.append(s)
    return socks


def test_ten_thousand_idle_connections(make_wharf):
    old = raise_nofile(12000)
    try:
        w = make_wharf(env={"WHARF_HTTP_LIMITS_MAX_CONNECTIONS": "10050", "WHARF_HTTP_ACCESS_LOG": "off"}).start()
        rss0 = w.rss_kb()
        socks = open_idle(w.port, 10000)
        deadline = time.time() + 20
        m = ""
        while time.time() < deadline:  # until the server has accepted them all
            m = curl(w.url + "/metrics").stdout.decode()
            if "wharf_http_open_connections 10001" in m:
                break
            time.sleep(0.1)
        assert "wharf_http_open_connections 10001" in m  # 10000 idle + the scrape
        rss = w.rss_kb()
        per_conn = (rss - rss0) * 1024 / 10000
        print(f"10000 idle connections: RSS {rss0 // 1024} -> {rss // 1024} MB, {per_conn:.0f} bytes each")
        report = os.environ.get("WHARF_CHAOS_REPORT")
        if report:
            with open(report, "a") as f:
                f.write(f"10000 idle connections held at {rss // 1024} MB RSS "
                        f"({per_conn / 1024:.1f} KiB per connection)\n")
        if not SANITIZED:
            assert per_conn < 16 * 1024, per_conn
        # Normal requests go on meanwhile.
        d = push_blob(w, "busy", b"still serving")
        assert call("GET", f"{w.url}/v2/busy/blobs/{d}").body == b"still serving"
        # Past the limit: a clean 503 with Retry-After, then close.
        extra = open_idle(w.port, 100)
        time.sleep(1)  # the refusals are written at accept time
        refused = 0
        for s in extra:
            try:
                data = s.recv(4096, socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue  # accepted: within the limit
            if data.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in data and b"UNAVAILABLE" in data:
                refused += 1
        assert refused >= 50, refused
        for s in socks + extra:
            s.close()
        time.sleep(0.5)
        assert call("GET", f"{w.url}/v2/").status == 200
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, old)


class Staller:
    """An 'upstream' that accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                pass

    def close(self):
        self.stop = True
        for s in self.held:
            s.close()
        self.sock.close()


def test_stalled_upstream_does_not_stall_others(make_wharf, upstream, tmp_path):
    from test_proxy import seed
    up = upstream()
    mdigest, blobs = seed(up, tmp_path)
    stall = Staller()
    regs = {"docker.io": {"mirrors": [up.url]},
            "stall.example": {"mirrors": [f"http://127.0.0.1:{stall.port}"]}}
    w = make_wharf(env=proxy_env(up.url, WHARF_PROXY_REGISTRIES=json.dumps(regs),
                                 WHARF_PROXY_FETCH_THREADS="4",
                                 WHARF_PROXY_FIRST_BYTE_TIMEOUT_SECONDS="60")).start()
    stuck = []
    for i in range(12):  # more than either pool has threads
        for path in (f"/v2/s{i}/manifests/v1?ns=stall.example",
                     f"/v2/s{i}/blobs/sha256:{i:064x}?ns=stall.example"):
            p = subprocess.Popen(["curl", "-s", "-o", "/dev/null", "--max-time", "90", w.url + path])
            stuck.append(p)
    try:
        time.sleep(1.5)
        assert all(p.poll() is None for p in stuck)  # really stalled
        t0 = time.monotonic()
        # Hosted content, and pulls through the healthy upstream, go on.
        d = push_blob(w, "hosted", b"hosted bytes")
        assert call("GET", f"{w.url}/v2/hosted/blobs/{d}").body == b"hosted bytes"
        r = call("GET", f"{w.url}/v2/library/app/manifests/v1",
                 headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        assert r.status == 200
        for b in blobs:
            got = call("GET", f"{w.url}/v2/library/app/blobs/{b}")
            assert got.status == 200 and sha(got.body) == b
        took = time.monotonic() - t0
        assert took < 10, took
    finally:
        for p in stuck:
            p.kill()
        stall.close()


def cpu_seconds(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(SANITIZED,
                    reason="UBSan's vptr check opens a pipe to probe memory; with no descriptor "
                           "left it reports a false 'invalid vptr' (runs in the release build)")
def test_out_of_file_descriptors(make_wharf):
    w = make_wharf(env={"WHARF_HTTP_ACCESS_LOG": "off"})
    w.args = ["prlimit", "--nofile=64:64", "--"] + w.args  # a tiny `ulimit -n`
    w.start()
    baseline = len(os.listdir(f"/proc/{w.proc.pid}/fd"))
    early = w.connect()  # accepted while descriptors were left
    early.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
    assert early.response()[0] == 200
    socks = open_idle(w.port, 150)  # far more than 64: the kernel queues the rest
    time.sleep(1)
    cpu0 = cpu_seconds(w.proc.pid)
    time.sleep(2)
    spent = cpu_seconds(w.proc.pid) - cpu0
    assert w.proc.poll() is None, "the server died"
    assert spent < 0.5, f"busy loop while out of descriptors: {spent:.2f} s of CPU in 2 s"
    assert "pausing accepts" in w.stderr()
    # A request that needs a descriptor meanwhile is told to come back, not
    # that the storage failed.
    early.sendall(b"POST /v2/busy/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    status, headers, body = early.response()
    assert status == 503 and headers.get("retry-after") == "1", (status, headers, body)
    assert json.loads(body)["errors"][0]["code"] == "UNAVAILABLE"
    early.close()
    for s in socks:
        s.close()
    deadline = time.time() + 10
    while time.time() < deadline:  # accepting resumes once descriptors are free
        r = curl("-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2", w.url + "/v2/", check=False)
        if r.stdout == b"200":
            break
        time.sleep(0.2)
    assert r.stdout == b"200"
    # The queued connections, closed by now, are accepted and closed in turn;
    # the push needs descriptors of its own once that is done.
    while len(os.listdir(f"/proc/{w.proc.pid}/fd")) > baseline + 2 and time.time() < deadline + 10:
        time.sleep(0.1)
    d = push_blob(w, "after", b"descriptors are back")
    assert call("GET", f"{w.url}/v2/after/blobs/{d}").body == b"descriptors are back"


def test_slow_readers_do_not_pin_memory(make_wharf, upstream, tmp_path):
    up = upstream()
    big = big_file(tmp_path, 64)
    proxied = push_raw_blob(up, "library/big", big)
    w = make_wharf(env=proxy_env(up.url)).start()
    data = open(big, "rb").read()
    hosted = push_blob(w, "big", data[:48 << 20])
    rss0 = w.rss_kb()
    readers = []
    for path in [f"/v2/big/blobs/{hosted}"] * 8 + [f"/v2/library/big/blobs/{proxied}"] * 4:
        s = socket.create_connection(("127.0.0.1", w.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        readers.append((s, path))
    time.sleep(3)  # nobody reads: the server must wait, not buffer
    grown = (w.rss_kb() - rss0) / 1024
    if not SANITIZED:
        assert grown < 24, f"RSS grew by {grown:.0f} MB for 12 stalled readers"
    assert call("GET", f"{w.url}/v2/").status == 200  # others are served meanwhile
    for s, path in readers:  # now read everything, and check it
        buf = b""
        s.settimeout(30)
        while b"\r\n\r\n" not in buf:
            buf += s.recv(65536)
        head, body = buf.split(b"\r\n\r\n", 1)
        n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
        h = hashlib.sha256(body)
        got = len(body)
        while got < n:
            chunk = s.recv(1 << 20)
            assert chunk, "connection closed early"
            h.update(chunk)
            got += len(chunk)
        want = hosted if "library" not in path else proxied
        assert "sha256:" + h.hexdigest() == want
        s.close()


@pytest.mark.skipif(SANITIZED, reason="the sanitizers' allocator keeps its own heaps")
def test_memory_of_a_tls_burst_is_given_back(make_wharf, tmp_path):
    """After 48 concurrent TLS downloads the resident size returns to where it
    was within one maintenance pass (30 s). glibc keeps what a burst freed
    (a TLS download holds about 160 KiB of buffers), scattered over its
    heaps, and the next burst touched other pages of it: the size crept up
    by megabytes per burst (bench/RESULTS.md, "Memory after TLS bursts").
    Measured on the heap (RssAnon), which is what the trim governs: the
    binary without the trim keeps 2.6-6.4 MiB of this burst, with it
    0.2-1.0 MiB stays (the arenas' top chunks, which malloc_trim leaves)."""
    import tls_setup
    from conftest import free_port
    from test_tls_auth import start_tls
    crt, key = tls_setup.self_signed(str(tmp_path))
    plain = free_port()
    w = make_wharf(env={"REGISTRY_HTTP_TLS_CERTIFICATE": crt, "REGISTRY_HTTP_TLS_KEY": key,
                        "WHARF_HTTP_PLAIN_ADDR": f"127.0.0.1:{plain}", "WHARF_HTTP_ACCESS_LOG": "off"})
    w.crt, w.https = crt, f"https://127.0.0.1:{w.port}"
    start_tls(w)
    data = os.urandom(16 << 20)
    d = push_blob(types.SimpleNamespace(url=f"http://127.0.0.1:{plain}"), "burst", data)
    url = f"{w.https}/v2/burst/blobs/{d}"

    def download(n):
        procs = [subprocess.Popen(["curl", "-sf", "--cacert", crt, "-o", "/dev/null", url]) for _ in range(n)]
        assert all(p.wait(60) == 0 for p in procs)

    download(2)  # TLS and the file are warm: what stays now is the baseline
    time.sleep(1)
    base, heap = w.rss_kb(), w.status_kb("RssAnon")
    with open(f"/proc/{w.proc.pid}/clear_refs", "w") as f:
        f.write("5")  # VmHWM restarts from the current size
    download(48)
    grown = w.hwm_kb() - base
    assert grown > 4096, f"the burst did not use memory ({grown} KiB): the test shows nothing"
    deadline = time.time() + 45
    while w.status_kb("RssAnon") > heap + 2048 and time.time() < deadline:
        time.sleep(1)
    left = w.status_kb("RssAnon") - heap
    assert left <= 2048, f"{left} KiB of the burst's {grown} KiB still on the heap"
