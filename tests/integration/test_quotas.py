"""storage.quotas: what the repositories under a prefix may hold together,
against skopeo pushes, a curl upload, a mount and a delete with gc."""
import hashlib
import json
import os
import subprocess

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
