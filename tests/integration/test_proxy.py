"""Pull-through cache against real upstreams on loopback: Debian's
docker-registry (anonymous and htpasswd) and Wharf itself in token mode."""
import base64
import contextlib
import hashlib
import json
import os
import subprocess
import threading
import time
import types

import pytest

import images
import tls_setup
from conftest import call, curl, free_port, partial_files
from test_skopeo import TLS, check_dir_blobs, skopeo
from relay import PausingRelay
from upstream import RateLimitedMirror, Registry


@pytest.fixture
def upstream(tmp_path):
    regs = []

    def make(**kw):
        r = Registry(str(tmp_path / f"up{len(regs)}"), **kw)
        regs.append(r)
        return r.start()

    yield make
    for r in regs:
        r.stop()


def proxy_env(*mirrors, **extra):
    env = {"WHARF_PROXY_ENABLED": "true",
           "WHARF_PROXY_REGISTRIES": json.dumps({"docker.io": {"mirrors": list(mirrors)}}),
           "WHARF_PROXY_CONNECT_TIMEOUT_SECONDS": "2"}
    env.update(extra)
    return env


def seed(up, tmp_path, name="library/app", tag="v1", seed_n=1, sizes=(1000, 20000, 300000)):
    src = str(tmp_path / f"seed-{name.replace('/', '_')}-{tag}-{seed_n}")
    mdigest, blobs = images.single(src, tag=tag, seed=seed_n, layer_sizes=sizes)
    skopeo("copy", *TLS, f"oci:{src}:{tag}", f"docker://127.0.0.1:{up.port}/{name}:{tag}")
    return mdigest, blobs


def pull(w, tmp_path, ref, out_name="out"):
    out = str(tmp_path / out_name)
    skopeo("copy", *TLS, f"docker://127.0.0.1:{w.port}/{ref}", f"dir:{out}")
    return check_dir_blobs(out)


def test_pull_through_then_serve_from_cache(make_wharf, upstream, tmp_path):
    up = upstream()
    mdigest, blobs = seed(up, tmp_path)
    w = make_wharf(env=proxy_env(up.url)).start()
    assert pull(w, tmp_path, "library/app:v1") == set(blobs)
    assert up.requests("GET", "/blobs/" + blobs[-1]) == 1
    # Upstream gone: the cache serves everything, including the tag.
    up.stop()
    assert pull(w, tmp_path, "library/app:v1", "again") == set(blobs)
    r = call("GET", f"{w.url}/v2/library/app/manifests/{mdigest}")
    assert r.status == 200 and images.sha256(r.body) == mdigest
    # Cached content is not hosted content: the catalog stays empty.
    assert call("GET", f"{w.url}/v2/_catalog").json() == {"repositories": []}


def push_raw_blob(up, repo, path):
    """Monolithic upload of a file to the upstream registry (curl, streamed)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    d = "sha256:" + h.hexdigest()
    r = curl("-s", "-i", "-X", "POST", f"{up.url}/v2/{repo}/blobs/uploads/").stdout.decode()
    loc = [l.split(": ", 1)[1].strip() for l in r.split("\r\n") if l.lower().startswith("location:")][0]
    sep = "&" if "?" in loc else "?"
    url = loc if loc.startswith("http") else up.url + loc
    r = curl("-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-T", path,
             "-H", "Content-Type: application/octet-stream", f"{url}{sep}digest={d}")
    assert r.stdout == b"201", r
    return d


def on_disk(w, d):
    """Whether Wharf `w` holds blob `d` as a file in its store."""
    return os.path.exists(os.path.join(w.env["WHARF_STORAGE_ROOT"], "blobs", "sha256", d[7:9], d[7:]))


def big_file(tmp_path, mib):
    path = tmp_path / f"big{mib}"
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for i in range(mib):
            f.write(hashlib.sha256(block + i.to_bytes(4, "big")).digest() + block[32:])
    return str(path)


def test_concurrent_misses_fetch_once(make_wharf, upstream, tmp_path):
    up = upstream()
    path = big_file(tmp_path, 512)
    layer = push_raw_blob(up, "library/big", path)
    os.unlink(path)
    w = make_wharf(env=proxy_env(up.url)).start()
    results = []

    def get():
        p = subprocess.Popen(["curl", "-sS", f"{w.url}/v2/library/big/blobs/{layer}"],
                             stdout=subprocess.PIPE)
        h = hashlib.sha256()
        for chunk in iter(lambda: p.stdout.read(1 << 20), b""):
            h.update(chunk)
        p.wait()
        results.append("sha256:" + h.hexdigest())
    threads = [threading.Thread(target=get) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [layer] * 8
    assert up.requests("GET", "/blobs/" + layer) == 1
    m = call("GET", f"{w.url}/metrics").body.decode()
    assert "wharf_proxy_misses_total 1" in m
    # Later requests come from disk.
    r = subprocess.run(["curl", "-sS", f"{w.url}/v2/library/big/blobs/{layer}"], capture_output=True)
    assert images.sha256(r.stdout) == layer
    assert up.requests("GET", "/blobs/" + layer) == 1
    assert "wharf_proxy_hits_total 1" in call("GET", f"{w.url}/metrics").body.decode()


@contextlib.contextmanager
def fill_held_back(make_wharf, upstream, tmp_path, repo):
    """An 8 MiB blob of `repo` on an upstream behind a PausingRelay, and a
    Wharf proxying it with one raw client connection whose GET started the
    fill; yields once the relay holds back everything after the first 2 MiB
    (release with fill.relay.release.set())."""
    up = upstream()
    path = big_file(tmp_path, 8)
    with open(path, "rb") as f:
        data = f.read()
    layer = push_raw_blob(up, repo, path)
    os.unlink(path)
    relay = PausingRelay(up.port, after=2 << 20)
    try:
        w = make_wharf(env=proxy_env(relay.url)).start()
        relay.armed = True
        c = w.connect()
        c.sendall(f"GET /v2/{repo}/blobs/{layer} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert relay.paused.wait(20)
        yield types.SimpleNamespace(up=up, w=w, relay=relay, layer=layer, data=data, conn=c)
    finally:
        relay.close()


def test_cold_blob_streams_while_the_upstream_holds_back_the_rest(make_wharf, upstream, tmp_path):
    """A miss answers with its head and the bytes that have arrived while the
    fill still waits for the upstream, then completes when the upstream goes on."""
    with fill_held_back(make_wharf, upstream, tmp_path, "library/slow") as fill:
        c = fill.conn
        status, headers, _ = c.response(head_only=True)
        assert status == 200
        assert headers["content-length"] == str(8 << 20)
        assert headers["docker-content-digest"] == fill.layer
        while len(c.buf) < 1 << 20:  # the first MiB, while the upstream holds the rest
            c._fill()
        assert not fill.relay.release.is_set()
        fill.relay.release.set()
        while len(c.buf) < 8 << 20:
            c._fill()
        assert c.buf == fill.data
        c.close()
        assert call("HEAD", f"{fill.w.url}/v2/library/slow/blobs/{fill.layer}").status == 200


def test_range_of_a_blob_still_being_fetched(make_wharf, upstream, tmp_path):
    """containerd resumes a cut download with `Range: bytes=N-`: while the
    fill is still on its way, the answer is a 206 for that part, sent as it
    arrives (its last byte, like any stream's, once the digest is checked)."""
    with fill_held_back(make_wharf, upstream, tmp_path, "library/ranged") as fill:
        data, url = fill.data, f"{fill.w.url}/v2/library/ranged/blobs/{fill.layer}"
        start = 6 << 20  # not fetched yet
        c = fill.w.connect()
        c.sendall(f"GET /v2/library/ranged/blobs/{fill.layer} HTTP/1.1\r\nHost: x\r\n"
                  f"Range: bytes={start}-\r\n\r\n".encode())
        status, headers, _ = c.response(head_only=True)
        assert status == 206
        assert headers["content-range"] == f"bytes {start}-{len(data) - 1}/{len(data)}"
        assert headers["content-length"] == str(len(data) - start)
        r = call("GET", url, headers={"Range": "bytes=99999999-"})
        assert r.status == 416 and r.headers["content-range"] == f"bytes */{len(data)}"
        fill.relay.release.set()
        while len(c.buf) < len(data) - start:
            c._fill()
        assert c.buf == data[start:]
        c.close()
        status, _, body = fill.conn.response()
        assert status == 200 and body == data
        assert fill.up.requests("GET", "/blobs/" + fill.layer) == 1


def test_client_hanging_up_mid_blob_does_not_waste_the_fill(make_wharf, upstream, tmp_path):
    """docker pull interrupted with ^C, then run again: the fill the first
    client started goes on without it, so the retry reads from disk and the
    upstream sends the blob once."""
    with fill_held_back(make_wharf, upstream, tmp_path, "library/quit") as fill:
        c, w, layer = fill.conn, fill.w, fill.layer
        while len(c.buf) < 1 << 20:
            c._fill()
        c.close()  # the only client goes away while the upstream holds the rest
        fill.relay.release.set()
        deadline = time.time() + 20
        while not on_disk(w, layer) and time.time() < deadline:
            time.sleep(0.05)
        assert on_disk(w, layer)
        r = subprocess.run(["curl", "-sS", f"{w.url}/v2/library/quit/blobs/{layer}"], capture_output=True)
        assert images.sha256(r.stdout) == layer
        assert fill.up.requests("GET", "/blobs/" + layer) == 1
        assert partial_files(w.env["WHARF_STORAGE_ROOT"]) == []


def test_head_of_uncached_blob_does_not_download(make_wharf, upstream, tmp_path):
    up = upstream()
    _, blobs = seed(up, tmp_path)
    w = make_wharf(env=proxy_env(up.url)).start()
    r = call("HEAD", f"{w.url}/v2/library/app/blobs/{blobs[-1]}")
    assert r.status == 200 and r.headers["docker-content-digest"] == blobs[-1]
    assert int(r.headers["content-length"]) > 0
    assert up.requests("GET", "/blobs/" + blobs[-1]) == 0
    assert up.requests("HEAD", "/blobs/" + blobs[-1]) >= 1
    r = call("HEAD", f"{w.url}/v2/library/app/blobs/sha256:" + "0" * 64)
    assert r.status == 404


def test_ns_and_path_prefix_routing(make_wharf, upstream, tmp_path):
    up = upstream()
    _, blobs = seed(up, tmp_path, name="library/alpine", tag="3")
    w = make_wharf(env=proxy_env(up.url)).start()
    # containerd style
    r = call("GET", f"{w.url}/v2/library/alpine/manifests/3?ns=docker.io",
             headers={"Accept": images.OCI_MANIFEST})
    assert r.status == 200
    r = call("GET", f"{w.url}/v2/library/alpine/blobs/{blobs[-1]}?ns=docker.io")
    assert images.sha256(r.body) == blobs[-1]
    # unknown registry: refused (not proxied)
    assert call("GET", f"{w.url}/v2/library/alpine/manifests/3?ns=quay.example").status == 404
    # path-prefix form
    assert pull(w, tmp_path, "docker.io/library/alpine:3") == set(blobs)
    # Docker Hub's official images without "library/", as docker names them
    # ("docker pull mirror:5000/alpine"), from the same cache.
    assert pull(w, tmp_path, "alpine:3", "short") == set(blobs)
    assert pull(w, tmp_path, "docker.io/alpine:3", "short-prefixed") == set(blobs)
    assert up.requests("GET", "/blobs/" + blobs[-1]) == 1
    r = call("GET", f"{w.url}/v2/alpine/tags/list")
    assert r.status == 200 and r.json() == {"name": "alpine", "tags": ["3"]}


def twin_registry(first, tmp_path):
    """A second reference registry over the storage of `first`: identical
    content from another mirror."""
    second = Registry(str(tmp_path / "second"))
    second.root = first.root
    with open(second.config, "w") as f:
        f.write(open(first.config).read().replace(str(first.port), str(second.port)))
    return second.start()


def wait_for_log(w, text, timeout=10):
    deadline = time.time() + timeout
    while text not in w.stderr():
        assert time.time() < deadline, f"{text!r} not logged: {w.stderr()}"
        time.sleep(0.05)


def test_failover_to_next_mirror(make_wharf, upstream, tmp_path):
    first = upstream()
    _, blobs = seed(first, tmp_path)
    second = twin_registry(first, tmp_path)
    try:
        w = make_wharf(env=proxy_env(first.url, second.url)).start()
        wait_for_log(w, f"mirror {first.url} answers")
        first.stop()  # dies after the start-up probe found it well
        assert pull(w, tmp_path, "library/app:v1") == set(blobs)
        assert f"via {first.url}" in w.stderr() and "connect" in w.stderr()
        # After repeated failures the dead mirror is skipped for a while.
        assert "marked unhealthy" in w.stderr()
    finally:
        second.stop()


def test_mirrors_without_the_image_hand_over_to_the_next(make_wharf, upstream, tmp_path):
    """Mirrors often hold only some images: one that does not have it (404)
    and one that will not give it to us (401, htpasswd without our login)
    come first, and the pull is served by the third. Answering is not being
    sick: neither is marked unhealthy. An image that no mirror has is a 404
    after all three said so."""
    partial, full = upstream(), upstream()
    seed(partial, tmp_path, name="library/other")
    pw = str(tmp_path / "closed-passwd")
    tls_setup.htpasswd(pw, "someone", "else")
    closed = upstream(htpasswd=pw)
    _, blobs = seed(full, tmp_path)
    w = make_wharf(env=proxy_env(partial.url, closed.url, full.url)).start()
    # Five misses (a tag, a manifest, three blobs): more than would mark a
    # failing mirror unhealthy.
    assert pull(w, tmp_path, "library/app:v1") == set(blobs)
    log = w.stderr()
    assert f"via {partial.url}: {partial.url} answered 404" in log
    assert f"via {closed.url}: {closed.url} answered 401" in log
    assert "marked unhealthy" not in log
    r = call("GET", f"{w.url}/v2/library/nowhere/manifests/v1")
    assert r.status == 404 and r.code() == "MANIFEST_UNKNOWN", r
    assert full.requests("HEAD", "/v2/library/nowhere/manifests/v1") == 1


def test_mirror_down_at_start_is_skipped_by_the_first_pull(make_wharf, upstream, tmp_path):
    up = upstream()
    _, blobs = seed(up, tmp_path)
    dead = f"http://127.0.0.1:{free_port()}"
    w = make_wharf(env=proxy_env(dead, up.url)).start()
    wait_for_log(w, f"mirror {dead} is not usable")
    wait_for_log(w, f"mirror {up.url} answers (200")
    assert pull(w, tmp_path, "library/app:v1") == set(blobs)
    assert f"via {dead}" not in w.stderr()  # no client request went there


def test_hosted_repository_wins(make_wharf, upstream, tmp_path):
    up = upstream()
    seed(up, tmp_path, name="team/tool", tag="v1", seed_n=1)
    w = make_wharf(env=proxy_env(up.url)).start()
    src = str(tmp_path / "local")
    local_digest, _ = images.single(src, tag="v1", seed=99)
    skopeo("copy", *TLS, f"oci:{src}:v1", f"docker://127.0.0.1:{w.port}/team/tool:v1")
    r = call("HEAD", f"{w.url}/v2/team/tool/manifests/v1")
    assert r.headers["docker-content-digest"] == local_digest


def test_read_only_mirror_refuses_pushes(make_wharf, upstream, tmp_path):
    up = upstream()
    w = make_wharf(env=proxy_env(up.url, WHARF_PROXY_READ_ONLY="true")).start()
    r = call("POST", f"{w.url}/v2/team/app/blobs/uploads/")
    assert r.status == 405 and r.code() == "UNSUPPORTED"


def test_tag_revalidation_stale_and_negative(make_wharf, upstream, tmp_path):
    up = upstream()
    first, _ = seed(up, tmp_path, seed_n=1)
    w = make_wharf(env=proxy_env(up.url, WHARF_PROXY_MANIFEST_TTL_SECONDS="3",
                                 WHARF_PROXY_NEGATIVE_TTL_SECONDS="60")).start()
    acc = {"Accept": images.OCI_MANIFEST}
    u = f"{w.url}/v2/library/app/manifests/v1"
    assert call("HEAD", u, headers=acc).headers["docker-content-digest"] == first
    second, _ = seed(up, tmp_path, seed_n=2)  # the tag moves upstream
    assert call("HEAD", u, headers=acc).headers["docker-content-digest"] == first  # fresh
    time.sleep(3.2)
    heads_before = up.requests("HEAD", "/manifests/v1")
    assert call("HEAD", u, headers=acc).headers["docker-content-digest"] == second
    assert up.requests("HEAD", "/manifests/v1") == heads_before + 1
    # Revalidation with an unchanged digest does not download the manifest again.
    gets = up.requests("GET", "/manifests/")
    time.sleep(3.2)
    assert call("GET", u, headers=acc).status == 200
    assert up.requests("GET", "/manifests/") == gets
    # Negative results are remembered.
    assert call("GET", f"{w.url}/v2/library/app/manifests/nope").status == 404
    n = up.requests("HEAD", "/manifests/nope")
    assert call("GET", f"{w.url}/v2/library/app/manifests/nope").status == 404
    assert up.requests("HEAD", "/manifests/nope") == n
    # Upstream down: the stale copy is served, with a warning.
    up.stop()
    time.sleep(3.2)
    r = call("GET", u, headers=acc)
    assert r.status == 200 and r.headers["docker-content-digest"] == second
    assert "serving the cached copy" in w.stderr()


def test_corrupt_upstream_blob_is_never_stored(make_wharf, upstream, tmp_path):
    up = upstream()
    _, blobs = seed(up, tmp_path, sizes=(2 << 20,))
    layer = blobs[-1]
    path = up.blob_data_path(layer)
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF  # same length, wrong content
    open(path, "wb").write(bytes(data))
    w = make_wharf(env=proxy_env(up.url)).start()
    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", f"{w.url}/v2/library/app/blobs/{layer}"],
                       capture_output=True, text=True)
    assert r.returncode != 0  # the transfer is cut, never completed
    assert "does not match its digest" in w.stderr()
    assert not on_disk(w, layer)
    assert partial_files(w.root) == []


def push_with_creds(port, tmp_path):
    src = str(tmp_path / "src")
    _, blobs = images.single(src)
    skopeo("copy", *TLS, "--dest-creds", "mirror:s3cret", f"oci:{src}:v1",
           f"docker://127.0.0.1:{port}/library/app:v1")
    return blobs


def proxy_with_creds(make_wharf, url, password):
    return make_wharf(env={"WHARF_PROXY_ENABLED": "true", "REGISTRY_PROXY_REMOTEURL": url,
                           "REGISTRY_PROXY_USERNAME": "mirror",
                           "REGISTRY_PROXY_PASSWORD": password}).start()


def test_upstream_basic_auth(make_wharf, upstream, tmp_path):
    pw = str(tmp_path / "up-passwd")
    tls_setup.htpasswd(pw, "mirror", "s3cret")
    up = upstream(htpasswd=pw)
    blobs = push_with_creds(up.port, tmp_path)
    w = proxy_with_creds(make_wharf, up.url, "s3cret")
    assert pull(w, tmp_path, "library/app:v1") == set(blobs)
    bad = proxy_with_creds(make_wharf, up.url, "nope")
    assert call("GET", f"{bad.url}/v2/library/app/manifests/v1").status == 404


@contextlib.contextmanager
def token_spy():
    """A third-party mirror that asks for a login: 401 with a Bearer
    challenge whose token service is its own, and it records every
    Authorization header it is sent."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers.get("Authorization")))
            if self.path.startswith("/token"):
                body = b'{"token": "spy-token"}'
                self.send_response(200)
            else:
                body = b'{"errors": [{"code": "UNAUTHORIZED", "message": "log in"}]}'
                self.send_response(401)
                port = self.server.server_address[1]
                self.send_header("WWW-Authenticate", f'Bearer realm="http://127.0.0.1:{port}/token",service="spy"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()


def test_registry_login_never_goes_to_a_third_party_mirror(make_wharf, upstream, tmp_path):
    """The registry's login (a Docker Hub token, say) goes only to the
    registry's own host, not to a mirror in front of it that asks for one,
    nor to the token service that mirror names; a mirror with a login of its
    own gets that one."""
    pw = str(tmp_path / "up-passwd")
    tls_setup.htpasswd(pw, "mirror", "s3cret")
    home = upstream(htpasswd=pw)
    blobs = push_with_creds(home.port, tmp_path)
    name = f"127.0.0.1:{home.port}"
    with token_spy() as (spy, seen):
        for own in (None, {"username": "spy-user", "password": "spy-pass"}):
            mirror = spy if own is None else dict(own, url=spy)
            regs = {name: {"mirrors": [mirror, home.url], "username": "mirror", "password": "s3cret"}}
            w = make_wharf(env={"WHARF_PROXY_ENABLED": "true", "WHARF_PROXY_DEFAULT_REGISTRY": name,
                                "WHARF_PROXY_REGISTRIES": json.dumps(regs)}).start()
            assert pull(w, tmp_path, "library/app:v1", f"out-{own is None}") == set(blobs)
            sent = {a for _, a in seen if a}
            assert "Basic " + base64.b64encode(b"mirror:s3cret").decode() not in sent, seen
            assert any(p.startswith("/token") for p, _ in seen), seen
            if own is None:
                assert not any(a.startswith("Basic") for a in sent), seen
                assert "the registry's login is not sent to mirror " + spy in w.stderr()
            else:
                assert "Basic " + base64.b64encode(b"spy-user:spy-pass").decode() in sent, seen
            w.stop()
            seen.clear()


def test_upstream_token_auth(make_wharf, tmp_path):
    # Upstream: Wharf itself in token mode (Bearer challenge + token service).
    pw = str(tmp_path / "passwd")
    tls_setup.htpasswd(pw, "mirror", "s3cret")
    upw = make_wharf(env={"REGISTRY_AUTH": "htpasswd", "REGISTRY_AUTH_HTPASSWD_PATH": pw,
                          "WHARF_AUTH_TOKEN_ENABLED": "true"}).start()
    blobs = push_with_creds(upw.port, tmp_path)
    w = proxy_with_creds(make_wharf, upw.url, "s3cret")
    assert pull(w, tmp_path, "library/app:v1") == set(blobs)
    # The token is reused: no request of the pull is answered 401 twice.
    upw.stop()
    log = upw.stdout().split("GET /v2/library/app/manifests/", 1)[1]
    assert log.count(" 401 ") <= 1, log


def test_mirror_that_keeps_images_under_a_prefix(make_wharf, upstream, tmp_path):
    """A mirror named as containerd's hosts.toml names a Harbor proxy-cache
    project, "https://harbor.corp/v2/dockerhub-proxy": docker.io's
    library/app is asked for as dockerhub-proxy/library/app, tokens included.
    The upstream is Wharf in token mode with a login that may only touch the
    prefix, so a token for the wrong name would fail the pull."""
    pw = str(tmp_path / "passwd")
    tls_setup.htpasswd(pw, "mirror", "s3cret")
    rules = json.dumps([{"user": "mirror", "prefix": "dockerhub-proxy/", "access": "write"}])
    upw = make_wharf(env={"REGISTRY_AUTH": "htpasswd", "REGISTRY_AUTH_HTPASSWD_PATH": pw,
                          "WHARF_AUTH_TOKEN_ENABLED": "true", "WHARF_AUTH_DEFAULT_ACCESS": "none",
                          "WHARF_AUTH_RULES": rules}).start()
    src = str(tmp_path / "src")
    md, blobs = images.single(src, layer_sizes=(20000,))
    skopeo("copy", *TLS, "--dest-creds", "mirror:s3cret", f"oci:{src}:v1",
           f"docker://127.0.0.1:{upw.port}/dockerhub-proxy/library/app:v1")
    registries = {"docker.io": {"mirrors": [upw.url + "/v2/dockerhub-proxy/"],
                                "username": "mirror", "password": "s3cret"}}
    w = make_wharf(env={"WHARF_PROXY_ENABLED": "true",
                        "WHARF_PROXY_REGISTRIES": json.dumps(registries)}).start()
    assert pull(w, tmp_path, "library/app:v1") == set(blobs)
    assert pull(w, tmp_path, "app:v1", "short") == set(blobs)  # docker's short form too
    tags = call("GET", f"{w.url}/v2/library/app/tags/list").json()
    assert tags == {"name": "library/app", "tags": ["v1"]}
    upw.stop()
    log = upw.stdout()
    assert f"GET /v2/dockerhub-proxy/library/app/blobs/{blobs[-1]} 200" in log, log
    assert "GET /v2/library/" not in log and "HEAD /v2/library/" not in log


def test_tags_list_passthrough(make_wharf, upstream, tmp_path):
    up = upstream()
    seed(up, tmp_path, tag="v1")
    seed(up, tmp_path, tag="v2")
    w = make_wharf(env=proxy_env(up.url)).start()
    r = call("GET", f"{w.url}/v2/library/app/tags/list")
    assert r.status == 200 and r.json()["tags"] == ["v1", "v2"]


def capped_mirror(make_wharf, upstream, tmp_path):
    """An upstream with images library/a, b and c (one 400 kB layer each) and
    a Wharf mirroring it under a 1 MB cache cap. Returns (upstream, wharf, and
    the blob digests of a, b and c)."""
    up = upstream()
    _, a = seed(up, tmp_path, name="library/a", sizes=(400000,), seed_n=11)
    _, b = seed(up, tmp_path, name="library/b", sizes=(400000,), seed_n=12)
    _, c = seed(up, tmp_path, name="library/c", sizes=(400000,), seed_n=13)
    w = make_wharf(env=proxy_env(up.url, WHARF_PROXY_CACHE_MAX_BYTES="1000000")).start()
    return up, w, a, b, c


def test_cache_size_cap_evicts_least_recently_used(make_wharf, upstream, tmp_path):
    up, w, a, b, c = capped_mirror(make_wharf, upstream, tmp_path)
    # A hosted blob is never evicted.
    hosted = os.urandom(600000)
    assert call("POST", f"{w.url}/v2/mine/blobs/uploads/?digest={images.sha256(hosted)}",
                hosted).status == 201
    pull(w, tmp_path, "library/a:v1", "pa")
    time.sleep(0.05)
    pull(w, tmp_path, "library/b:v1", "pb")
    time.sleep(0.05)
    call("GET", f"{w.url}/v2/library/a/blobs/{a[-1]}")  # a is now more recent than b
    time.sleep(0.05)
    pull(w, tmp_path, "library/c:v1", "pc")  # over the cap: b's layer goes
    assert "eviction: removed" in w.stderr()
    assert not on_disk(w, b[-1])
    assert on_disk(w, a[-1]) and on_disk(w, c[-1])
    assert on_disk(w, images.sha256(hosted))
    # Evicted content is simply fetched again: the tag resolves, the blob comes back.
    assert call("HEAD", f"{w.url}/v2/library/b/manifests/v1").status == 200
    n = up.requests("GET", "/blobs/" + b[-1])
    r = call("GET", f"{w.url}/v2/library/b/blobs/{b[-1]}")
    assert images.sha256(r.body) == b[-1]
    assert up.requests("GET", "/blobs/" + b[-1]) == n + 1


def test_cache_size_cap_counts_what_was_cached_before_a_restart(make_wharf, upstream, tmp_path):
    _, w, a, b, c = capped_mirror(make_wharf, upstream, tmp_path)
    pull(w, tmp_path, "library/a:v1", "pa")
    pull(w, tmp_path, "library/b:v1", "pb")  # 800 kB cached: under the cap
    assert w.stop() == 0
    w.start()
    pull(w, tmp_path, "library/c:v1", "pc")  # over the cap only if a and b still count
    assert "eviction: removed" in w.stderr()
    assert not on_disk(w, a[-1])  # the oldest
    assert on_disk(w, c[-1])


def test_cache_expires_what_was_not_pulled_for_max_idle(make_wharf, upstream, tmp_path):
    """proxy.cache_max_idle (REGISTRY_PROXY_TTL): what nobody pulled for that
    long goes, what was pulled since stays, and the last pull survives a
    restart (b was cached as early as a; only its later pull keeps it)."""
    up = upstream()
    ma, a = seed(up, tmp_path, name="library/a", sizes=(40000,), seed_n=21)
    _, b = seed(up, tmp_path, name="library/b", sizes=(40000,), seed_n=22)
    w = make_wharf(env=proxy_env(up.url, REGISTRY_PROXY_TTL="0")).start()
    hosted = os.urandom(5000)
    assert call("POST", f"{w.url}/v2/mine/blobs/uploads/?digest={images.sha256(hosted)}",
                hosted).status == 201
    pull(w, tmp_path, "library/a:v1", "pa")
    pull(w, tmp_path, "library/b:v1", "pb")
    t_a = time.time()
    time.sleep(8)
    assert pull(w, tmp_path, "library/b:v1", "pb2") == set(b)  # from the cache, a pull all the same
    t_b = time.time()
    assert w.stop() == 0  # a clean stop writes the pulls it noted
    # Idle half-way between the two: a's content is older, b's younger, by
    # 4 s, more than a start takes (the first expiry pass runs at start).
    now = time.time()
    w.env["REGISTRY_PROXY_TTL"] = f"{int((now - t_a + now - t_b) / 2 * 1000)}ms"
    w.start()
    wait_for_log(w, "(proxy.cache_max_idle)")
    assert "eviction: removed 3 cached blobs" in w.stderr()  # a's manifest, config and layer
    assert not on_disk(w, a[-1]) and not on_disk(w, ma)
    assert all(on_disk(w, d) for d in b)
    assert on_disk(w, images.sha256(hosted))  # pushed content never expires
    m = call("GET", f"{w.url}/metrics").body.decode()
    assert "\nwharf_proxy_expired_total 3\n" in m and "\nwharf_proxy_evictions_total 0\n" in m
    # b comes from the cache; a is simply fetched again.
    n = up.requests("GET", "/blobs/")
    assert pull(w, tmp_path, "library/b:v1", "pb3") == set(b)
    assert up.requests("GET", "/blobs/") == n
    assert pull(w, tmp_path, "library/a:v1", "pa2") == set(a)
    assert up.requests("GET", "/blobs/" + a[-1]) == 2


def test_delete_drops_cached_content_for_gc(make_wharf, upstream, tmp_path):
    """An operator drops one cached image (say a vulnerable one) with the
    registry API's DELETE, as for pushed content; gc then frees its blobs and
    the next pull fetches it again. A read-only mirror allows it, and
    storage.delete_enabled governs it."""
    from test_gc import gc
    up = upstream()
    md, blobs = seed(up, tmp_path, sizes=(30000,))
    keep_md, keep = seed(up, tmp_path, name="library/keep", sizes=(30000,), seed_n=5)
    w = make_wharf(env=proxy_env(up.url, WHARF_PROXY_READ_ONLY="true",
                                 WHARF_STORAGE_GC_GRACE_MINUTES="0")).start()
    pull(w, tmp_path, "library/app:v1", "p1")
    pull(w, tmp_path, "keep:v1", "k1")  # docker's short form: the same cache as library/keep
    r = call("DELETE", f"{w.url}/v2/library/app/manifests/{md}")
    assert r.status == 405 and r.code() == "UNSUPPORTED" and "delete_enabled" in r.json()["errors"][0]["message"]
    w.stop()
    w.env["REGISTRY_STORAGE_DELETE_ENABLED"] = "true"
    w.start()
    # Pushes stay refused; uncached content is unknown, not fetched to be deleted.
    r = call("POST", f"{w.url}/v2/library/app/blobs/uploads/")
    assert r.status == 405 and "read-only mirror" in r.json()["errors"][0]["message"]
    r = call("DELETE", f"{w.url}/v2/library/other/manifests/{md}")
    assert r.status == 404 and r.code() == "MANIFEST_UNKNOWN"
    # skopeo resolves the tag (from the cache) and deletes by digest.
    skopeo("delete", "--tls-verify=false", f"docker://127.0.0.1:{w.port}/library/app:v1")
    assert call("DELETE", f"{w.url}/v2/keep/blobs/{keep[0]}").status == 202  # unlinked only
    assert call("DELETE", f"{w.url}/v2/library/app/manifests/{md}").status == 404
    rep = gc(w)
    assert rep["blobs_deleted"] == 3  # app's manifest, config and layer
    assert not on_disk(w, blobs[-1]) and not on_disk(w, md)
    assert all(on_disk(w, d) for d in keep) and on_disk(w, keep_md)  # still referenced
    n = up.requests("GET", "/blobs/" + blobs[-1])
    assert pull(w, tmp_path, "library/app:v1", "p2") == set(blobs)
    assert up.requests("GET", "/blobs/" + blobs[-1]) == n + 1
    # The unlinked blob is still on disk for keep's manifest: linked again
    # once the upstream confirms the repository has it, not downloaded.
    heads = up.requests("HEAD", "/blobs/" + keep[0])
    assert pull(w, tmp_path, "library/keep:v1", "k2") == set(keep)
    assert up.requests("HEAD", "/blobs/" + keep[0]) == heads + 1
    assert up.requests("GET", "/blobs/" + keep[0]) == 1


def test_mirror_with_anonymous_pull_and_authenticated_push(make_wharf, upstream, tmp_path):
    up = upstream()
    _, blobs = seed(up, tmp_path)
    pw = str(tmp_path / "passwd")
    tls_setup.htpasswd(pw, "dev", "devpw")
    w = make_wharf(env=proxy_env(up.url, REGISTRY_AUTH="htpasswd", REGISTRY_AUTH_HTPASSWD_PATH=pw,
                                 WHARF_AUTH_ANONYMOUS_PULL="true")).start()
    assert pull(w, tmp_path, "library/app:v1") == set(blobs)  # no credentials
    src = str(tmp_path / "mine")
    images.single(src, seed=5)
    r = skopeo("copy", *TLS, f"oci:{src}:v1", f"docker://127.0.0.1:{w.port}/team/app:v1", check=False)
    assert r.returncode != 0
    r = call("POST", f"{w.url}/v2/team/app/blobs/uploads/", headers={
        "Authorization": "Basic " + __import__("base64").b64encode(b"dev:devpw").decode()})
    assert r.status == 202


def test_multi_arch_cold_and_warm(make_wharf, upstream, tmp_path):
    up = upstream()
    src = str(tmp_path / "multi")
    idx, children, blobs = images.multi_arch(src)
    skopeo("copy", "--all", *TLS, f"oci:{src}:multi", f"docker://127.0.0.1:{up.port}/library/multi:1")
    w = make_wharf(env=proxy_env(up.url)).start()
    for name in ("cold", "warm"):
        out = str(tmp_path / name)
        skopeo("copy", "--all", *TLS, f"docker://127.0.0.1:{w.port}/library/multi:1", f"dir:{out}")
        assert check_dir_blobs(out) == set(blobs) | set(children)
    r = call("HEAD", f"{w.url}/v2/library/multi/manifests/1")
    assert r.headers["docker-content-digest"] == idx


def test_one_platform_pulls_only_its_layers(make_wharf, upstream, tmp_path):
    up = upstream()
    src = str(tmp_path / "multi")
    idx, children, blobs = images.multi_arch(src)
    skopeo("copy", "--all", *TLS, f"oci:{src}:multi", f"docker://127.0.0.1:{up.port}/library/multi:1")
    w = make_wharf(env=proxy_env(up.url)).start()
    out = str(tmp_path / "arm")
    skopeo("--override-arch", "arm64", "copy", *TLS, f"docker://127.0.0.1:{w.port}/library/multi:1",
           f"dir:{out}")
    fetched = [b for b in blobs if up.requests("GET", "/blobs/" + b)]
    assert len(fetched) == 3  # config + 2 layers of one platform, none of the other


def test_index_entry_for_a_client_that_cannot_take_the_index(make_wharf, upstream, tmp_path):
    """A client that sends only the image manifest types gets the index's
    linux/amd64 manifest by tag (ServeManifest), fetched by digest when the
    cache lacks it: at once after a cold tag, or after a cached one. The other
    platform's manifest is never fetched."""
    up = upstream()
    only_manifest = {"Accept": images.OCI_MANIFEST}
    wanted = {}
    for tag, seed_n in (("cold", 7), ("cached", 9)):
        src = str(tmp_path / tag)
        idx, children, _ = images.multi_arch(src, tag=tag, seed=seed_n, archs=("arm64", "amd64"))
        skopeo("copy", "--all", *TLS, f"oci:{src}:{tag}", f"docker://127.0.0.1:{up.port}/library/plat:{tag}")
        wanted[tag] = (idx, children)
    w = make_wharf(env=proxy_env(up.url)).start()
    # The index alone is cached and fresh; its entry is not.
    assert call("HEAD", f"{w.url}/v2/library/plat/manifests/cached").headers["docker-content-digest"] == \
        wanted["cached"][0]
    for tag, (idx, (arm64, amd64)) in wanted.items():
        for _ in range(2):  # a miss, then from the cache
            r = call("GET", f"{w.url}/v2/library/plat/manifests/{tag}", headers=only_manifest)
            assert r.status == 200, (tag, r)
            assert r.headers["docker-content-digest"] == amd64 and images.sha256(r.body) == amd64
        assert up.requests("GET", f"/manifests/{amd64}") == 1, tag
        assert up.requests("GET", f"/manifests/{arm64}") == 0, tag
        r = call("GET", f"{w.url}/v2/library/plat/manifests/{idx}", headers=only_manifest)
        assert r.status == 404 and r.code() == "MANIFEST_UNKNOWN"


def silent_listener():
    """A loopback socket that accepts connections (the kernel's backlog) and
    never answers."""
    s = __import__("socket").socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


def test_upstream_rate_limit_is_passed_on_or_failed_over(make_wharf, upstream, tmp_path):
    """Docker Hub's 429 past its pull rate limit (nginx answering as it
    does). With no other mirror the client gets 429 TOOMANYREQUESTS with
    Docker Hub's own words, which is what `docker pull` and the kubelet then
    show, instead of an anonymous 502, with what is left of the mirror's
    Retry-After; with another mirror the pull goes on there."""
    up = upstream()
    mdigest, blobs = seed(up, tmp_path)
    limited = RateLimitedMirror(str(tmp_path / "limited"), up, retry_after=1800)
    try:
        w = make_wharf(env=proxy_env(limited.url)).start()
        for path in ("manifests/v1", f"manifests/{mdigest}", f"blobs/{blobs[-1]}"):
            r = call("GET", f"{w.url}/v2/library/app/{path}")
            assert r.status == 429 and r.code() == "TOOMANYREQUESTS", (path, r)
            assert 1790 <= int(r.headers["retry-after"]) <= 1800, r.headers
            message = r.json()["errors"][0]["message"]
            assert "upstream registry rate limit" in message and "You have reached your pull rate limit" in message
            assert limited.url in message
        assert not on_disk(w, blobs[-1])
        assert partial_files(w.env["WHARF_STORAGE_ROOT"]) == []
        assert "TOOMANYREQUESTS: You have reached your pull rate limit" in w.stderr() + w.stdout()
        # HEADs, which Docker Hub does not count, still work.
        assert call("HEAD", f"{w.url}/v2/library/app/blobs/{blobs[-1]}").status == 200
        # What the mirror announced, for an alert before pulls fail.
        m = call("GET", f"{w.url}/metrics").body.decode()
        labels = f'{{registry="docker.io",mirror="{limited.url}"}}'
        assert f"wharf_proxy_mirror_ratelimit_limit{labels} 100\n" in m
        assert f"wharf_proxy_mirror_ratelimit_remaining{labels} 0\n" in m
        assert "# TYPE wharf_proxy_mirror_ratelimit_remaining gauge" in m
        w2 = make_wharf(env=proxy_env(limited.url, up.url)).start()
        assert pull(w2, tmp_path, "library/app:v1") == set(blobs)
        # A mirror that never announced a limit has no such figures.
        m = call("GET", f"{w2.url}/metrics").body.decode()
        assert f'wharf_proxy_mirror_healthy{{registry="docker.io",mirror="{up.url}"}} 1' in m
        assert f'ratelimit_limit{{registry="docker.io",mirror="{up.url}"}}' not in m
    finally:
        limited.stop()


def test_allow_list_limits_what_is_pulled_through(make_wharf, upstream, tmp_path):
    """proxy.registries.<name>.allow: a mirror that pulls through only the
    repositories under its prefixes. Any other is local only, in every form
    a client names it: unknown unless pushed here, and the upstream is never
    asked. A first push there works (skopeo HEADs its blobs first)."""
    up = upstream()
    _, blobs = seed(up, tmp_path)
    other, other_blobs = seed(up, tmp_path, name="other/app", seed_n=2)
    regs = {"docker.io": {"mirrors": [up.url], "allow": ["library", "team/"]}}
    w = make_wharf(env=proxy_env(up.url, WHARF_PROXY_REGISTRIES=json.dumps(regs))).start()
    seeded = [up.requests(m, "/other/app/") for m in ("GET", "HEAD")]
    assert pull(w, tmp_path, "library/app:v1") == set(blobs)
    assert pull(w, tmp_path, "app:v1", "short") == set(blobs)  # Docker Hub's library/, filled in
    for method, path in (("GET", "other/app/manifests/v1"), ("HEAD", f"other/app/manifests/{other}"),
                         ("GET", f"other/app/blobs/{other_blobs[-1]}"), ("GET", "other/app/tags/list"),
                         ("GET", "other/app/manifests/v1?ns=docker.io"), ("GET", "docker.io/other/app/manifests/v1"),
                         ("GET", "teamwork/app/manifests/v1")):
        r = call(method, f"{w.url}/v2/{path}")
        assert r.status == 404, (path, r)
        if method == "GET" and "/blobs/" not in path:
            assert r.code() == "NAME_UNKNOWN", (path, r)
            assert "is not pulled through here (proxy.registries.docker.io.allow)" in r.body.decode(), r.body
    assert [up.requests(m, "/other/app/") for m in ("GET", "HEAD")] == seeded, "the upstream was asked"
    assert not on_disk(w, other_blobs[-1])
    r = skopeo("copy", *TLS, f"docker://127.0.0.1:{w.port}/other/app:v1", f"dir:{tmp_path / 'refused'}", check=False)
    assert r.returncode != 0 and "proxy.registries.docker.io.allow" in r.stderr, r.stderr
    src = str(tmp_path / "mine")
    images.single(src, tag="v1", seed=9)
    skopeo("copy", *TLS, f"oci:{src}:v1", f"docker://127.0.0.1:{w.port}/other/mine:v1")
    assert pull(w, tmp_path, "other/mine:v1", "mine-pulled")


def test_hanging_mirror_times_out_then_next_serves(make_wharf, upstream, tmp_path):
    up = upstream()
    _, blobs = seed(up, tmp_path)
    hang = silent_listener()
    dead = f"http://127.0.0.1:{hang.getsockname()[1]}"
    w = make_wharf(env=proxy_env(dead, up.url, WHARF_PROXY_FIRST_BYTE_TIMEOUT_SECONDS="1")).start()
    t0 = time.time()
    assert pull(w, tmp_path, "library/app:v1") == set(blobs)
    assert time.time() - t0 < 30
    assert "no response in time" in w.stderr()
    hang.close()


def test_stop_does_not_wait_for_a_silent_mirror(make_wharf, tmp_path):
    """The start-up probe of a mirror that accepts and never answers (default
    timeouts: 30 s for a first byte) is cut at shutdown."""
    silent = silent_listener()
    w = make_wharf(env=proxy_env(f"http://127.0.0.1:{silent.getsockname()[1]}",
                                 WHARF_PROXY_CONNECT_TIMEOUT_SECONDS="10")).start()
    time.sleep(0.3)  # the probe waits on the mirror now
    t0 = time.time()
    assert w.stop(timeout=20) == 0
    assert time.time() - t0 < 5
    assert "is not usable" in w.stderr()
    silent.close()


def test_mirror_dying_mid_blob_is_resumed_from_the_next(make_wharf, upstream, tmp_path):
    first = upstream()
    path = big_file(tmp_path, 256)
    layer = push_raw_blob(first, "library/big", path)
    os.unlink(path)
    second = twin_registry(first, tmp_path)
    try:
        w = make_wharf(env=proxy_env(first.url, second.url, WHARF_PROXY_STALL_TIMEOUT_SECONDS="2")).start()
        p = subprocess.Popen(["curl", "-sS", f"{w.url}/v2/library/big/blobs/{layer}"],
                             stdout=subprocess.PIPE)
        reader_result = []

        def read():
            h = hashlib.sha256()
            for chunk in iter(lambda: p.stdout.read(1 << 20), b""):
                h.update(chunk)
            reader_result.append("sha256:" + h.hexdigest())
        reader = threading.Thread(target=read)
        reader.start()
        # Kill mirror 1 while the proxy's download is under way: watch the
        # temp file grow past 16 MiB.
        tmpdir = os.path.join(w.root, "tmp")
        killed = False
        deadline = time.time() + 60
        while not killed and time.time() < deadline:
            for name in os.listdir(tmpdir):
                try:
                    if os.path.getsize(os.path.join(tmpdir, name)) > 16 << 20:
                        first.proc.kill()  # mirror 1 dies mid-blob
                        killed = True
                except OSError:
                    pass
            time.sleep(0.001)
        reader.join()
        assert p.wait() == 0
        assert killed and reader_result == [layer]
        assert second.requests("GET", "/blobs/" + layer) == 1  # the rest, with a Range
    finally:
        second.stop()


def test_corrupt_mirror_then_good_mirror(make_wharf, upstream, tmp_path):
    bad = upstream()
    _, blobs = seed(bad, tmp_path, sizes=(1 << 20,))
    layer = blobs[-1]
    good = upstream()
    seed(good, tmp_path, sizes=(1 << 20,))
    path = bad.blob_data_path(layer)
    data = bytearray(open(path, "rb").read())
    data[100] ^= 0xFF
    open(path, "wb").write(bytes(data))
    w = make_wharf(env=proxy_env(bad.url, good.url)).start()
    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", f"{w.url}/v2/library/app/blobs/{layer}"],
                       capture_output=True)
    assert r.returncode != 0
    r = call("GET", f"{w.url}/v2/library/app/blobs/{layer}")
    assert r.status == 200 and images.sha256(r.body) == layer
    assert good.requests("GET", "/blobs/" + layer) == 1


@contextlib.contextmanager
def portal_mirror():
    """What a mirror that shut down (or a captive portal in front of it)
    often answers: 200 and an HTML page, to every request, /v2/ included."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def answer(self, with_body):
            page = b"<html><body>This mirror has been discontinued.</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            if with_body:
                self.wfile.write(page)

        def do_GET(self):
            self.answer(True)

        def do_HEAD(self):
            self.answer(False)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_mirror_answering_a_web_page_is_skipped(make_wharf, upstream, tmp_path):
    """A manifest that is not one, or not the one asked for, fails over to the
    next mirror within the same request, by tag and by digest; so does a
    blob."""
    up = upstream()
    mdigest, blobs = seed(up, tmp_path)
    with portal_mirror() as portal:
        w = make_wharf(env=proxy_env(portal, up.url)).start()
        assert pull(w, tmp_path, "library/app:v1") == set(blobs)
        assert f"from {portal}: upstream sent an invalid manifest" in w.stderr()
        assert f"mirror {portal} sent bad content" in w.stderr()
        w2 = make_wharf(env=proxy_env(portal, up.url)).start()
        r = call("GET", f"{w2.url}/v2/library/app/manifests/{mdigest}",
                 headers={"Accept": images.OCI_MANIFEST})
        assert r.status == 200 and images.sha256(r.body) == mdigest, r
        assert "does not match its digest" in w2.stderr()
        # A blob too, at the first try: the page arrives whole, so it is
        # checked before the client's head goes out.
        w3 = make_wharf(env=proxy_env(portal, up.url)).start()
        r = call("GET", f"{w3.url}/v2/library/app/blobs/{blobs[0]}")
        assert r.status == 200 and images.sha256(r.body) == blobs[0], r
        assert f"{portal} sent bad content: does not match its digest" in w3.stderr()


def test_ns_routes_to_two_registries(make_wharf, upstream, tmp_path):
    hub = upstream()
    other = upstream()
    hub_digest, _ = seed(hub, tmp_path, name="library/app", seed_n=1)
    ghcr_digest, _ = seed(other, tmp_path, name="library/app", seed_n=2)
    regs = {"docker.io": {"mirrors": [hub.url]}, "ghcr.io": {"mirrors": [other.url]}}
    w = make_wharf(env={"WHARF_PROXY_ENABLED": "true",
                        "WHARF_PROXY_REGISTRIES": json.dumps(regs)}).start()
    acc = {"Accept": images.OCI_MANIFEST}
    r1 = call("HEAD", f"{w.url}/v2/library/app/manifests/v1?ns=docker.io", headers=acc)
    r2 = call("HEAD", f"{w.url}/v2/library/app/manifests/v1?ns=ghcr.io", headers=acc)
    r3 = call("HEAD", f"{w.url}/v2/library/app/manifests/v1", headers=acc)
    assert r1.headers["docker-content-digest"] == hub_digest
    assert r2.headers["docker-content-digest"] == ghcr_digest
    assert r3.headers["docker-content-digest"] == hub_digest


def test_tags_list_merge_and_local(make_wharf, upstream, tmp_path):
    up = upstream()
    seed(up, tmp_path, tag="v1")
    seed(up, tmp_path, tag="v2")
    w = make_wharf(env=proxy_env(up.url, WHARF_PROXY_TAGS_LIST="local")).start()
    call("GET", f"{w.url}/v2/library/app/manifests/v1")  # caches v1 only
    assert call("GET", f"{w.url}/v2/library/app/tags/list").json()["tags"] == ["v1"]
    w2 = make_wharf(env=proxy_env(up.url)).start()  # merge (the default)
    r = call("GET", f"{w2.url}/v2/library/app/tags/list?n=1")
    assert r.json()["tags"] == ["v1"] and 'last=v1' in r.headers["link"]
    up.stop()
    call("GET", f"{w.url}/v2/library/app/manifests/v1")
    assert call("GET", f"{w.url}/v2/library/app/tags/list").json()["tags"] == ["v1"]


def test_warm_fills_the_cache_ahead_of_the_pulls(make_wharf, upstream, tmp_path):
    """`wharf warm` asks the running server for what `docker pull` would
    fetch, over its admin socket (no login, while pulls need one): the
    manifest, for an index only the platforms asked for, and every blob.
    Later pulls are served with the upstream gone."""
    from conftest import WHARF_BIN
    up = upstream()
    app_digest, app_blobs = seed(up, tmp_path)
    src = str(tmp_path / "multi")
    idx, _, multi_blobs = images.multi_arch(src)
    skopeo("copy", "--all", *TLS, f"oci:{src}:multi", f"docker://127.0.0.1:{up.port}/library/multi:1")
    amd64_blobs, arm64_blobs = multi_blobs[:3], multi_blobs[3:]
    passwd = str(tmp_path / "htpasswd")
    tls_setup.htpasswd(passwd, "alice", "s3cret")
    w = make_wharf(env=proxy_env(up.url, REGISTRY_AUTH="htpasswd", REGISTRY_AUTH_HTPASSWD_PATH=passwd)).start()
    assert call("GET", f"{w.url}/v2/library/app/manifests/v1").status == 401

    def warm(*args):
        r = subprocess.run([WHARF_BIN, "warm", *args], env=w.env, capture_output=True, text=True, timeout=120)
        return r.returncode, (json.loads(r.stdout)["images"] if r.stdout else None), r.stderr

    code, rep, err = warm("--platform", "linux/arm64", "app:v1", "docker.io/library/multi:1")
    assert code == 0, err
    assert rep[0] == {"image": "docker.io/library/app:v1", "digest": app_digest, "manifests": 1,
                      "blobs": 4, "bytes": rep[0]["bytes"]}, rep
    assert rep[0]["bytes"] > 321000
    assert rep[1]["digest"] == idx and rep[1]["manifests"] == 2 and rep[1]["blobs"] == 3, rep
    # Only the platform asked for came from the upstream.
    assert all(up.requests("GET", "/blobs/" + b) for b in arm64_blobs)
    assert not any(up.requests("GET", "/blobs/" + b) for b in amd64_blobs)
    # An image the upstream does not have, a name that is not one.
    code, rep, err = warm("library/nothing:1")
    assert code == 1 and "MANIFEST_UNKNOWN" in rep[0]["error"], (rep, err)
    code, _, err = warm("Bad/Name")
    assert code == 2 and "invalid repository name" in err, err
    # A list for cron: one image per line, comments and blank lines skipped.
    listfile = tmp_path / "warm.list"
    listfile.write_text("# images this site needs\n\n  app:v1   # the app\n")
    code, rep, err = warm("--file", str(listfile))
    assert code == 0 and [r["digest"] for r in rep] == [app_digest], (rep, err)
    code, _, err = warm("--file", str(tmp_path / "missing.list"))
    assert code == 2 and "missing.list" in err, err

    # `wharf usage --cached`: what the cache holds, by upstream repository.
    def usage(*args):
        r = subprocess.run([WHARF_BIN, "usage", "--cached", *args], env=w.env, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)
    rep = usage()
    by_name = {r["name"]: r for r in rep["repositories"]}
    assert set(by_name) == {"docker.io/library/app", "docker.io/library/multi"}, rep
    assert by_name["docker.io/library/app"]["blobs"] == 4 and by_name["docker.io/library/app"]["manifests"] == 1
    assert by_name["docker.io/library/multi"]["blobs"] == 3 and by_name["docker.io/library/multi"]["manifests"] == 2
    assert rep["quotas"] == [] and rep["bytes"] == sum(r["bytes"] for r in rep["repositories"])
    assert usage("docker.io/library/app")["repositories"] == [by_name["docker.io/library/app"]]
    assert subprocess.run([WHARF_BIN, "usage"], env=w.env, capture_output=True, text=True,
                          timeout=60).stdout.count('"name"') == 0  # nothing pushed

    up.stop()
    creds = ["--src-creds", "alice:s3cret", "--src-tls-verify=false"]
    out = str(tmp_path / "app")
    skopeo("copy", *creds, f"docker://127.0.0.1:{w.port}/library/app:v1", f"dir:{out}")
    assert check_dir_blobs(out) == set(app_blobs)
    out = str(tmp_path / "arm")
    skopeo("--override-arch", "arm64", "copy", *creds, f"docker://127.0.0.1:{w.port}/library/multi:1", f"dir:{out}")
    assert check_dir_blobs(out) == set(arm64_blobs)

    w.stop()
    code, _, err = warm("app:v1")
    assert code == 1 and "no running server to fill its cache" in err, err
