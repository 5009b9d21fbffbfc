"""wharf fsck (offline and through a running server) and damaged blobs met
while serving: they are quarantined, never served, and re-fetched when they
came through the proxy."""
import json
import os
import re
import subprocess

from conftest import WHARF_BIN, call, curl
from test_api import push_blob, simple_image
from test_gc import blob_file
from test_proxy import proxy_env, seed, upstream  # noqa: F401 (fixture)


def fsck(w, *flags):
    r = subprocess.run([WHARF_BIN, "fsck", *flags], env=w.env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode in (0, 1), r.stderr
    return r.returncode, json.loads(r.stdout)


def flip_byte(path, at=10):
    with open(path, "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 0xFF]))


def kinds(rep):
    return sorted((p["kind"], p["repaired"]) for p in rep["problems"])


def test_fsck_finds_and_quarantines_a_corrupt_blob(make_wharf):
    w = make_wharf().start()
    md, body, cd, ld = simple_image(w, "app")
    w.stop()
    rc, rep = fsck(w)
    assert rc == 0 and rep["ok"] and rep["blobs_checked"] == 3 and rep["manifests_checked"] == 1
    assert rep["tags_checked"] == 1 and rep["bytes_checked"] > 1006

    flip_byte(blob_file(w, ld))  # same size: only hashing can tell
    rc, rep = fsck(w)
    assert rc == 1 and kinds(rep) == [("corrupt_blob", False)]
    assert rep["problems"][0]["subject"] == ld and "hashes to sha256:" in rep["problems"][0]["detail"]
    assert os.path.exists(blob_file(w, ld))  # a check alone changes nothing

    rc, rep = fsck(w, "--repair")
    assert rc == 1  # the manifest still needs the blob: only a re-push fixes that
    assert kinds(rep) == [("corrupt_blob", True), ("dangling_reference", False)]
    assert not os.path.exists(blob_file(w, ld))
    quarantined = os.listdir(os.path.join(w.root, "quarantine"))
    assert quarantined == [q for q in quarantined if q.startswith("sha256-" + ld[7:] + "-")] != []

    w.start()
    assert call("HEAD", f"{w.url}/v2/app/blobs/{ld}").status == 404  # no longer claimed
    layer = b"layer-" + b"x" * 1000
    assert push_blob(w, "app", layer) == ld  # the client pushes it again
    rc, rep = fsck(w)  # through the running server's admin socket
    assert rc == 0 and rep["ok"], rep
    assert call("GET", f"{w.url}/v2/app/blobs/{ld}").body == layer


def test_fsck_reports_missing_files_and_dangling_tags(make_wharf):
    w = make_wharf().start()
    md, body, cd, ld = simple_image(w, "app")
    w.stop()
    os.unlink(blob_file(w, md))  # the manifest's own content
    rc, rep = fsck(w)
    assert rc == 1
    assert kinds(rep) == [("missing_blob_file", False), ("unreadable_manifest", False)]
    rc, rep = fsck(w, "--repair")
    assert ("missing_blob_file", True) in kinds(rep)


def test_damaged_blob_is_quarantined_on_serve(make_wharf):
    w = make_wharf().start()
    data = os.urandom(200000)
    d = push_blob(w, "app", data)
    with open(blob_file(w, d), "r+b") as f:
        f.truncate(1000)  # e.g. a disk or an operator damaged it
    h = curl("-s", "-D", "-", "-o", "/dev/null", f"{w.url}/v2/app/blobs/{d}").stdout.decode()
    assert h.startswith("HTTP/1.1 500")
    rid = re.search(r"X-Request-Id: (\S+)", h).group(1)
    r = call("GET", f"{w.url}/v2/app/blobs/{d}")
    assert r.status == 404 and r.json()["errors"][0]["code"] == "BLOB_UNKNOWN"
    # The log says what happened, under the id the client was given.
    assert re.search(rf"req={rid} blob {d} quarantined \(size 1000 on disk, recorded 200000\)", w.stderr())
    assert len(os.listdir(os.path.join(w.root, "quarantine"))) == 1
    # Pushing it again restores it.
    push_blob(w, "app", data)
    assert call("GET", f"{w.url}/v2/app/blobs/{d}").body == data


def test_damaged_cached_blob_is_fetched_again(make_wharf, upstream, tmp_path):
    up = upstream()
    mdigest, blobs = seed(up, tmp_path)
    w = make_wharf(env=proxy_env(up.url)).start()
    layer = blobs[-1]
    first = call("GET", f"{w.url}/v2/library/app/blobs/{layer}")
    assert first.status == 200
    assert up.requests("GET", "/blobs/" + layer) == 1
    cached = [os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(w.root, "blobs"))
              for f in fs if f == layer[7:]]
    assert len(cached) == 1
    with open(cached[0], "r+b") as f:
        f.truncate(10)
    again = call("GET", f"{w.url}/v2/library/app/blobs/{layer}")
    assert again.status == 200 and again.body == first.body  # the client never sees the damage
    assert up.requests("GET", "/blobs/" + layer) == 2
    assert os.path.getsize(cached[0]) == len(first.body)
    assert call("GET", f"{w.url}/v2/library/app/blobs/{layer}").body == first.body


def metric(text, name):
    m = re.search(rf"^{re.escape(name)} (\d+)$", text, re.M)
    assert m, (name, text[-2000:])
    return int(m.group(1))


def test_storage_figures_in_metrics(make_wharf):
    w = make_wharf().start()
    md, body, cd, ld = simple_image(w, "app")
    r = call("POST", f"{w.url}/v2/app/blobs/uploads/")
    assert r.status == 202  # left open: resumable across the restart
    w.stop()
    w.start()
    m = curl(w.url + "/metrics").stdout.decode()
    assert metric(m, 'wharf_storage_blobs{origin="hosted"}') == 3  # config, layer, manifest
    assert metric(m, 'wharf_storage_bytes{origin="hosted"}') == 1006 + len(body) + len(
        call("GET", f"{w.url}/v2/app/blobs/{cd}").body)
    assert metric(m, 'wharf_storage_blobs{origin="cached"}') == 0
    assert metric(m, "wharf_storage_uploads_in_progress") == 1
    assert metric(m, "wharf_storage_quarantined_files") == 0
    assert metric(m, "wharf_storage_filesystem_free_bytes") > 0
    assert metric(m, "wharf_storage_stats_age_seconds") < 30
