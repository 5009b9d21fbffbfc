"""storage.immutable_tags: release tags that, once pushed, keep pointing at
what they were pushed as, against skopeo pushes, deletes and retention."""
import json
import time

import images
from conftest import call
from test_gc import gc
from test_skopeo import TLS, check_dir_blobs, skopeo


def test_immutable_tags_hold_against_pushes_deletes_and_retention(make_wharf, tmp_path):
    w = make_wharf(env={"REGISTRY_STORAGE_DELETE_ENABLED": "true", "WHARF_STORAGE_GC_GRACE_MINUTES": "0",
                        "WHARF_STORAGE_IMMUTABLE_TAGS": json.dumps(
                            [{"prefix": "", "tags": ["v*"]}, {"prefix": "scratch", "tags": []}]),
                        "WHARF_STORAGE_RETENTION": json.dumps([{"prefix": "", "keep_last": 1}])}).start()
    src, digests, images_blobs = {}, {}, {}
    for n in (1, 2, 3):
        src[n] = str(tmp_path / f"img{n}")
        digests[n], images_blobs[n] = images.single(src[n], tag="x", seed=n)

    def push(n, target, check=True):
        return skopeo("copy", *TLS, f"oci:{src[n]}:x", f"docker://127.0.0.1:{w.port}/{target}", check=check)

    def points_at(repo, tag):
        r = call("HEAD", f"{w.url}/v2/{repo}/manifests/{tag}",
                 headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        return r.headers.get("docker-content-digest") if r.status == 200 else r.status

    push(3, "app:old")
    push(3, "app:tmp")
    time.sleep(0.01)
    push(1, "app:v1")
    push(1, "app:v1")  # a retried push of the same image succeeds
    r = push(2, "app:v1", check=False)
    assert r.returncode != 0 and "immutable" in r.stderr, r.stderr
    assert points_at("app", "v1") == digests[1]
    # The answer a plain client gets: 403 DENIED naming the tag and where it points.
    body = skopeo("inspect", "--raw", "--tls-verify=false", f"oci:{src[2]}:x").stdout.encode()
    r = call("PUT", f"{w.url}/v2/app/manifests/v1", data=body,
             headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert r.status == 403 and r.code() == "DENIED", r
    err = r.json()["errors"][0]
    assert err["detail"] == {"tag": "v1", "digest": digests[1]} and "storage.immutable_tags" in err["message"]
    assert call("GET", f"{w.url}/v2/app/manifests/{digests[2]}").status == 404, "a refused push leaves no manifest"

    # Other tags move; a tag under a prefix whose rule names no tags does too.
    time.sleep(0.01)
    push(2, "app:build-2")
    push(2, "scratch/app:v1")
    push(3, "scratch/app:v1")
    assert points_at("scratch/app", "v1") == digests[3]

    # Neither the tag nor, by digest, the manifest it points at can be deleted.
    for ref in ("v1", digests[1]):
        r = call("DELETE", f"{w.url}/v2/app/manifests/{ref}")
        assert r.status == 403 and r.code() == "DENIED" and r.json()["errors"][0]["detail"] == {"tag": "v1"}, r
    assert points_at("app", "v1") == digests[1]
    assert call("DELETE", f"{w.url}/v2/app/manifests/tmp").status == 202  # a mutable tag goes
    assert call("DELETE", f"{w.url}/v2/scratch/app/manifests/v1").status == 202

    # Retention keeps the newest tag (build-2) and lets "old" go; v1, older
    # still, stays.
    rep = gc(w)
    assert rep["tags_expired"] == 1, rep
    assert call("GET", f"{w.url}/v2/app/tags/list").json()["tags"] == ["build-2", "v1"]
    out = str(tmp_path / "pulled")
    skopeo("copy", *TLS, f"docker://127.0.0.1:{w.port}/app:v1", f"dir:{out}")
    assert check_dir_blobs(out) == set(images_blobs[1])
