"""Crash safety: kill -9 at random moments under concurrent writes, then
check that everything acknowledged survived intact and nothing is corrupt.

Each cycle runs, at the same time: skopeo pushes of whole images, raw
chunked uploads (POST, PATCHes with Content-Range, PUT ?digest=), pulls
through the proxy from a Debian docker-registry upstream, and blob deletes;
then SIGKILLs the server at a random moment and restarts it. After every
restart:
  - every blob file hashes to its name;
  - `wharf fsck` (through the admin socket) finds nothing: no record without
    its file, no manifest or tag referring to anything missing;
  - every upload acknowledged with 201 and every image skopeo finished is
    there, byte for byte; every delete acknowledged with 202 stayed deleted;
  - tmp/ is empty and every file in uploads/ is a resumable upload;
  - the server answered within a second of being started.
WHARF_CHAOS_CYCLES (default 20) and WHARF_CHAOS_SEED make runs repeatable."""
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import threading
import time
import urllib.request

import pytest

import images
from images import sha256 as sha
from conftest import WHARF_BENCH as BENCH, WHARF_BIN, call, partial_files
from test_proxy import proxy_env, seed, upstream  # noqa: F401 (fixture)
from test_skopeo import TLS

CYCLES = int(os.environ.get("WHARF_CHAOS_CYCLES", "20"))


class Corrupt(Exception):
    """Wrong bytes served: always a failure, unlike connection errors."""


class Ledger:
    """What the server acknowledged, and what is in flight (either outcome is fine)."""

    def __init__(self):
        self.mu = threading.Lock()
        self.blobs = {}      # (repo, digest) -> bytes
        self.images = {}     # (repo, tag) -> manifest digest
        self.deleted = set()  # (repo, digest)
        self.counts = {"uploads": 0, "images": 0, "deletes": 0, "proxied": 0, "errors": 0}

    def note(self, kind):
        with self.mu:
            self.counts[kind] += 1


def chunked_upload(url, repo, data, chunk):
    r = call("POST", f"{url}/v2/{repo}/blobs/uploads/")
    if r.status != 202:
        return False
    loc = r.headers["location"]
    for off in range(0, len(data), chunk):
        part = data[off:off + chunk]
        r = call("PATCH", url + loc, part, {"Content-Type": "application/octet-stream",
                                           "Content-Range": f"{off}-{off + len(part) - 1}"})
        if r.status != 202:
            return False
        loc = r.headers["location"]
    sep = "&" if "?" in loc else "?"
    return call("PUT", f"{url}{loc}{sep}digest={sha(data)}").status == 201


def worker(kind, w, led, stop, rnd, ctx):
    n = 0
    while not stop.is_set():
        n += 1
        try:
            if kind == "upload":
                data = rnd.randbytes(rnd.randint(1, 600_000))
                repo = f"chaos/up{rnd.randint(0, 3)}"
                if chunked_upload(w.url, repo, data, rnd.choice([65536, 200_000, 1 << 20])):
                    with led.mu:
                        led.blobs[(repo, sha(data))] = data
                        led.deleted.discard((repo, sha(data)))
                    led.note("uploads")
            elif kind == "skopeo":
                src, mdigest = rnd.choice(ctx["layouts"])
                repo, tag = f"chaos/sk{rnd.randint(0, 2)}", f"c{ctx['cycle']}-{n}"
                r = subprocess.run(["skopeo", "--insecure-policy", "copy", *TLS, f"oci:{src}:v1",
                                    f"docker://127.0.0.1:{w.port}/{repo}:{tag}"],
                                   capture_output=True, timeout=120)
                if r.returncode == 0:
                    with led.mu:
                        led.images[(repo, tag)] = mdigest
                    led.note("images")
            elif kind == "proxy":
                man = call("GET", f"{w.url}/v2/library/app/manifests/v1",
                           headers={"Accept": images.OCI_MANIFEST})
                if man.status == 200:
                    if sha(man.body) != ctx["proxied"]:
                        raise Corrupt("proxied manifest corrupt")
                    for l in json.loads(man.body)["layers"]:
                        b = call("GET", f"{w.url}/v2/library/app/blobs/{l['digest']}")
                        if b.status == 200:
                            if sha(b.body) != l["digest"]:
                                raise Corrupt(f"proxied blob {l['digest']} corrupt")
                    led.note("proxied")
            elif kind == "delete":
                with led.mu:
                    victims = [k for k in led.blobs if k[0] == "chaos/up0"]
                if victims:
                    repo, d = rnd.choice(victims)
                    with led.mu:
                        led.blobs.pop((repo, d), None)  # in flight: not checked either way
                    if call("DELETE", f"{w.url}/v2/{repo}/blobs/{d}").status == 202:
                        with led.mu:
                            led.deleted.add((repo, d))
                        led.note("deletes")
                time.sleep(0.05)
        except Corrupt:
            raise
        except Exception:  # the server was killed under us (curl fails): expected
            led.note("errors")
            time.sleep(0.02)


def restart(w):
    """Starts the server; returns seconds until it answered /v2/."""
    t0 = time.monotonic()
    w.proc = subprocess.Popen(w.args, env=w.env, stdout=w.out, stderr=w.err)
    while True:
        try:
            with urllib.request.urlopen(w.url + "/v2/", timeout=1) as r:
                if r.status == 200:
                    return time.monotonic() - t0
        except OSError:
            pass
        assert w.proc.poll() is None, "wharf died at startup: " + w.stderr()[-3000:]
        assert time.monotonic() - t0 < 30, "wharf did not come back"
        time.sleep(0.005)


def check_store(w, led):
    problems = []
    root = w.root
    for dp, _, files in os.walk(os.path.join(root, "blobs")):
        for f in files:
            with open(os.path.join(dp, f), "rb") as fh:
                if hashlib.sha256(fh.read()).hexdigest() != f:
                    problems.append(f"blob file {f} does not match its name")
    leftovers = partial_files(root)
    if leftovers:
        problems.append(f"tmp/ not cleaned: {leftovers}")
    r = subprocess.run([WHARF_BIN, "fsck"], env=w.env, capture_output=True, text=True, timeout=300)
    rep = json.loads(r.stdout) if r.stdout.startswith("{") else {"problems": [r.stderr]}
    if r.returncode != 0:
        problems.append(f"fsck: {rep['problems'][:5]}")
    metrics = call("GET", f"{w.url}/metrics").body.decode()
    open_uploads = int(re.search(r"^wharf_storage_uploads_in_progress (\d+)$", metrics, re.M).group(1))
    files = len(os.listdir(os.path.join(root, "uploads")))
    if open_uploads != files:
        problems.append(f"{files} upload files but {open_uploads} resumable uploads")
    with led.mu:
        blobs, imgs, deleted = dict(led.blobs), dict(led.images), set(led.deleted)
    for (repo, d), data in blobs.items():
        got = call("GET", f"{w.url}/v2/{repo}/blobs/{d}")
        if got.status != 200 or got.body != data:
            problems.append(f"acknowledged blob {repo}@{d} lost or wrong ({got.status})")
    for (repo, tag), md in imgs.items():
        got = call("HEAD", f"{w.url}/v2/{repo}/manifests/{tag}",
                   headers={"Accept": images.OCI_MANIFEST})
        if got.status != 200 or got.headers.get("docker-content-digest") != md:
            problems.append(f"acknowledged image {repo}:{tag} lost ({got.status})")
    for repo, d in deleted:
        if call("HEAD", f"{w.url}/v2/{repo}/blobs/{d}").status != 404:
            problems.append(f"acknowledged delete of {repo}@{d} undone")
    return problems, len(blobs), len(imgs)


def test_kill_9_cycles(make_wharf, upstream, tmp_path):
    rnd_seed = int(os.environ.get("WHARF_CHAOS_SEED", str(random.randrange(1 << 30))))
    print(f"chaos seed {rnd_seed}")
    rnd = random.Random(rnd_seed)
    up = upstream()
    proxied, _ = seed(up, tmp_path, sizes=(1000, 300_000, 2_000_000))
    layouts = []
    for i in range(3):
        src = str(tmp_path / f"layout{i}")
        md, _ = images.single(src, tag="v1", seed=100 + i, layer_sizes=(5000, 150_000))
        layouts.append((src, md))
    w = make_wharf(env=proxy_env(up.url, REGISTRY_STORAGE_DELETE_ENABLED="true",
                                 WHARF_PROXY_MANIFEST_TTL_SECONDS="1"))
    led = Ledger()
    startups, failures = [], []
    restart(w)
    for cycle in range(CYCLES):
        stop = threading.Event()
        ctx = {"layouts": layouts, "cycle": cycle, "proxied": proxied}
        kinds = ["upload", "upload", "skopeo", "proxy", "delete"]
        errs = []

        def run(k, s):
            try:
                worker(k, w, led, stop, random.Random(s), ctx)
            except Corrupt as e:
                errs.append(str(e))
        threads = [threading.Thread(target=run, args=(k, rnd.randrange(1 << 30))) for k in kinds]
        for t in threads:
            t.start()
        time.sleep(rnd.uniform(0.3, 2.0))
        w.proc.send_signal(signal.SIGKILL)  # mid-flight, whatever it was doing
        w.proc.wait()
        stop.set()
        for t in threads:
            t.join(120)
        startups.append(restart(w))
        problems, nblobs, nimgs = check_store(w, led)
        failures += [f"cycle {cycle}: {p}" for p in problems + errs]
    w.stop()
    c = led.counts
    summary = (f"{CYCLES}/{CYCLES} kill -9 cycles: {len(failures)} problems; "
               f"{c['uploads']} chunked uploads, {c['images']} skopeo pushes, {c['deletes']} deletes, "
               f"{c['proxied']} proxied pulls acknowledged; checked {nblobs} blobs and {nimgs} images "
               f"after the last restart; startup max {max(startups) * 1000:.0f} ms, "
               f"median {sorted(startups)[len(startups) // 2] * 1000:.0f} ms")
    print(summary)
    results = os.environ.get("WHARF_CHAOS_REPORT")
    if results:
        with open(results, "a") as f:
            f.write(summary + "\n")
    assert not failures, "\n".join(failures[:30])
    assert max(startups) < 1.0, startups
    assert c["uploads"] > CYCLES and c["images"] > 0 and c["proxied"] > 0, c


@pytest.mark.skipif(not os.path.exists(BENCH), reason="wharf-bench not built here")
def test_startup_with_100k_blobs(make_wharf):
    """The index does not slow startup down: 100k blobs (and 100k repositories),
    restarted after a clean stop and after kill -9 (RocksDB replays its log)."""
    n = int(os.environ.get("WHARF_STARTUP_BLOBS", "100000"))
    w = make_wharf(env={"WHARF_HTTP_ACCESS_LOG": "off"}).start()
    r = subprocess.run([BENCH, "push", w.url, "-c", "32", "-n", str(n), "--size", "64", "--distinct",
                        "--prefix", "idx/r", "--json", "--quiet"], capture_output=True, text=True, timeout=900)
    out = json.loads(r.stdout)
    assert r.returncode == 0 and out["requests"] == n and out["errors"] == {}, r.stderr
    # Straight after the writes: the metadata log has to be replayed.
    w.proc.send_signal(signal.SIGKILL)
    w.proc.wait()
    crashed = restart(w)
    m = call("GET", f"{w.url}/metrics").body.decode()
    assert re.search(rf'^wharf_storage_blobs{{origin="hosted"}} {n}$', m, re.M)
    w.stop()
    clean = restart(w)
    m = call("GET", f"{w.url}/metrics").body.decode()
    assert re.search(rf'^wharf_storage_blobs{{origin="hosted"}} {n}$', m, re.M)
    summary = (f"startup with {n} blobs in {n} repositories: {clean * 1000:.0f} ms after a clean stop, "
               f"{crashed * 1000:.0f} ms after kill -9 (uploaded at {out['requests_per_second']:.0f} blobs/s)")
    print(summary)
    if os.environ.get("WHARF_CHAOS_REPORT"):
        with open(os.environ["WHARF_CHAOS_REPORT"], "a") as f:
            f.write(summary + "\n")
    assert clean < 1.0 and crashed < 1.0, summary
