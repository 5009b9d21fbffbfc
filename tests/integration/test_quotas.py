"""storage.quotas: what the repositories under a prefix may hold together,
against skopeo pushes, a curl upload, a mount and a delete with gc."""
import hashlib
import json
import os
import select
import subprocess
from concurrent.futures import ThreadPoolExecutor

import images
from conftest import WHARF_BIN, call
from test_gc import gc
from test_skopeo import TLS, check_dir_blobs, skopeo


def test_quota_refuses_what_does_not_fit_and_counts_shared_content_once(make_wharf, tmp_path):
    w = make_wharf(env={"REGISTRY_STORAGE_DELETE_ENABLED": "true", "WHARF_STORAGE_GC_GRACE_MINUTES": "0",
                        "WHARF_STORAGE_QUOTAS": json.dumps([{"prefix": "team", "max_bytes": 400000}])}).start()
    src, digests, blobs = {}, {}, {}
    for n in (1, 2):
        src[n] = str(tmp_path / f"img{n}")
        digests[n], blobs[n] = images.single(src[n], tag="x", seed=n)  # about 321 kB each

    def push(n, target, check=True):
        return skopeo("copy", *TLS, f"oci:{src[n]}:x", f"docker://127.0.0.1:{w.port}/{target}", check=check)

    push(1, "team/app:v1")
    r = push(2, "team/app:v2", check=False)
    assert r.returncode != 0 and "quota exceeded: the repositories under team hold" in r.stderr, r.stderr
    # What team holds already costs nothing more, in another of its repositories too.
    push(1, "team/web:v1")
    push(1, "team/app:again")
    push(2, "other/app:v1")  # no rule governs it

    # A plain client's upload: 403 DENIED with the figures, and nothing left behind.
    data = os.urandom(100000)
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    r = call("POST", f"{w.url}/v2/team/tool/blobs/uploads/?digest={d}", data)
    assert r.status == 403 and r.code() == "DENIED", r
    assert "(storage.quotas), and this adds 97.7 KiB" in r.json()["errors"][0]["message"], r.body
    assert call("HEAD", f"{w.url}/v2/team/tool/blobs/{d}").status == 404
    assert os.listdir(os.path.join(w.env["WHARF_STORAGE_ROOT"], "uploads")) == []
    # A chunked upload is refused when it completes, and is gone then too.
    r = call("POST", f"{w.url}/v2/team/tool/blobs/uploads/")
    assert r.status == 202, r
    loc = r.headers["location"]
    r = call("PUT", f"{w.url}{loc}{'&' if '?' in loc else '?'}digest={d}", data)
    assert r.status == 403 and r.code() == "DENIED", r
    assert call("GET", f"{w.url}{loc}").status == 404
    # A mount of another repository's blob into team counts like an upload.
    r = call("POST", f"{w.url}/v2/team/tool/blobs/uploads/?mount={blobs[2][-1]}&from=other/app")
    assert r.status == 403 and r.code() == "DENIED", r
    r = call("POST", f"{w.url}/v2/team/tool/blobs/uploads/?mount={blobs[1][-1]}&from=team/app")
    assert r.status == 201, r

    # Deleting team's image and collecting frees its quota.
    for repo in ("team/app", "team/web"):
        assert call("DELETE", f"{w.url}/v2/{repo}/manifests/{digests[1]}").status == 202
    call("DELETE", f"{w.url}/v2/team/tool/blobs/{blobs[1][-1]}")
    assert gc(w)["blobs_deleted"] > 0
    push(2, "team/app:v2")
    out = str(tmp_path / "pulled")
    skopeo("copy", *TLS, f"docker://127.0.0.1:{w.port}/team/app:v2", f"dir:{out}")
    assert check_dir_blobs(out) == set(blobs[2])
    # /metrics shows each rule's usage (taken at start and every 30 s).
    w.stop()
    w.start()
    held = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out) if f != "version")
    m = call("GET", f"{w.url}/metrics").body.decode()
    assert f'\nwharf_storage_quota_used_bytes{{prefix="team"}} {held}\n' in m, m
    assert '\nwharf_storage_quota_limit_bytes{prefix="team"} 400000\n' in m
    # `wharf usage`: which repositories hold what, through the running
    # server and offline alike.
    def usage(*args):
        r = subprocess.run([WHARF_BIN, "usage", *args], env=w.env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)
    rep = usage()
    assert rep["quotas"] == [{"prefix": "team", "used_bytes": held, "max_bytes": 400000}], rep
    names = [r["name"] for r in rep["repositories"]]
    assert set(names) == {"team/app", "other/app"}, rep
    team_app = next(r for r in rep["repositories"] if r["name"] == "team/app")
    assert team_app == {"name": "team/app", "bytes": held, "blobs": len(blobs[2]), "manifests": 1}, rep
    w.stop()
    assert usage("team/")["repositories"] == [team_app]


def test_a_full_quota_refuses_an_upload_before_its_bytes(make_wharf):
    """docker and skopeo open an upload session, then send the blob: when
    the quota has no byte left, the session is refused, not the blob after
    it was sent."""
    w = make_wharf(env={"WHARF_STORAGE_QUOTAS": json.dumps([{"prefix": "team", "max_bytes": 1000}])}).start()
    r = call("POST", f"{w.url}/v2/team/a/blobs/uploads/")
    assert r.status == 202, r
    data = os.urandom(1000)
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    assert call("POST", f"{w.url}/v2/team/a/blobs/uploads/?digest={d}", data).status == 201  # exactly full
    r = call("POST", f"{w.url}/v2/team/b/blobs/uploads/")
    assert r.status == 403 and r.code() == "DENIED", r
    assert "hold 1000 B of their 1000 B (storage.quotas): no room for another upload" in r.body.decode(), r.body
    assert "location" not in r.headers
    # What the rule holds already may still be added; other repositories are free.
    assert call("POST", f"{w.url}/v2/team/b/blobs/uploads/?mount={d}&from=team/a").status == 201
    assert call("POST", f"{w.url}/v2/other/blobs/uploads/").status == 202


def test_uploads_at_the_same_moment_cannot_overrun_a_quota(make_wharf):
    """docker pushes several layers at once: each addition is decided with
    what the ones admitted before it will add, so exactly as many fit as
    the quota holds, whatever the timing."""
    w = make_wharf(env={"WHARF_STORAGE_QUOTAS": json.dumps([{"prefix": "team", "max_bytes": 350000}])}).start()
    blobs = [os.urandom(100000) for _ in range(8)]

    def push(i):
        d = "sha256:" + hashlib.sha256(blobs[i]).hexdigest()
        return call("POST", f"{w.url}/v2/team/r{i}/blobs/uploads/?digest={d}", blobs[i]).status

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(push, range(8)))
    assert sorted(statuses) == [201] * 3 + [403] * 5, statuses
    m = call("GET", f"{w.url}/metrics").body.decode()
    assert '\nwharf_storage_quota_refusals_total{prefix="team"} 5\n' in m, m
    assert os.listdir(os.path.join(w.env["WHARF_STORAGE_ROOT"], "uploads")) == []


def send_chunk(conn, data):
    conn.sendall(b"%x\r\n" % len(data) + data + b"\r\n")


def answered(conn, wait):
    return bool(conn.buf) or bool(select.select([conn.sock], [], [], wait)[0])


def test_an_upload_that_cannot_fit_is_refused_as_soon_as_its_bytes_say_so(make_wharf):
    """A quota that is not full yet takes the upload session; the blob is
    refused before its body when its Content-Length does not fit, and in the
    middle of a stream once it has outgrown both the room left and every
    blob the rule holds (a copy of one of them would cost nothing). Content
    deleted meanwhile counts: the stream then goes on."""
    w = make_wharf(env={"REGISTRY_STORAGE_DELETE_ENABLED": "true",
                        "WHARF_STORAGE_QUOTAS": json.dumps([{"prefix": "team", "max_bytes": 300000}])}).start()
    held = os.urandom(200000)
    held_digest = "sha256:" + hashlib.sha256(held).hexdigest()
    assert call("POST", f"{w.url}/v2/team/a/blobs/uploads/?digest={held_digest}", held).status == 201
    uploads = os.path.join(w.env["WHARF_STORAGE_ROOT"], "uploads")

    def session():
        r = call("POST", f"{w.url}/v2/team/b/blobs/uploads/")
        assert r.status == 202, r
        return r.headers["location"]

    # Announced: 250000 bytes fit neither the 100000 left nor as a copy of
    # the 200000-byte blob. Refused on its head, no byte of it sent.
    loc = session()
    c = w.connect()
    c.sendall(f"PATCH {loc} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
              f"Content-Length: 250000\r\n\r\n".encode())
    assert answered(c, 10)
    status, _, body = c.response()
    assert status == 403 and json.loads(body)["errors"][0]["code"] == "DENIED", body
    assert b"hold 195.3 KiB of their 293.0 KiB (storage.quotas), and this upload comes to at least 244.1 KiB" in body
    c.close()
    assert call("GET", f"{w.url}{loc}").status == 404  # discarded: it could never complete
    assert os.listdir(uploads) == []

    # A stream without a length: refused once past 200000 bytes.
    loc = session()
    c = w.connect()
    c.sendall(f"PATCH {loc} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
    sent = 0
    while not answered(c, 0.2) and sent < 1000000:
        send_chunk(c, os.urandom(25000))
        sent += 25000
    assert answered(c, 10)
    status, _, body = c.response()
    assert status == 403 and b"this upload comes to at least" in body, body
    assert 200000 < sent <= 300000, sent
    c.close()
    assert call("GET", f"{w.url}{loc}").status == 404
    assert os.listdir(uploads) == []

    # The same stream, while the held blob is deleted: past 200000 bytes the
    # cap is taken again, finds 300000 bytes of room, and the push lands.
    loc = session()
    c = w.connect()
    c.sendall(f"PATCH {loc} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
    data = os.urandom(250000)
    for i in range(0, 150000, 25000):
        send_chunk(c, data[i:i + 25000])
    assert call("DELETE", f"{w.url}/v2/team/a/blobs/{held_digest}").status == 202
    for i in range(150000, 250000, 25000):
        send_chunk(c, data[i:i + 25000])
    c.sendall(b"0\r\n\r\n")
    status, headers, body = c.response()
    assert status == 202 and headers["range"] == "0-249999", (status, body)
    c.close()
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    assert call("PUT", f"{w.url}{loc}{'&' if '?' in loc else '?'}digest={d}").status == 201
    assert call("GET", f"{w.url}/v2/team/b/blobs/{d}").body == data
