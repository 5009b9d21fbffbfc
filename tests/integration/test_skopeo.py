"""Push and pull real images with skopeo (Debian package) against the
running binary, and compare every blob digest."""
import hashlib
import json
import os
import subprocess

import images
from conftest import call, curl


def skopeo(*args, check=True):
    r = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, text=True,
                       timeout=300)
    if check and r.returncode != 0:
        raise AssertionError(f"skopeo {args} failed:\n{r.stderr}")
    return r


def ref(w, name):
    return f"docker://127.0.0.1:{w.port}/{name}"


TLS = ["--src-tls-verify=false", "--dest-tls-verify=false"]


def check_dir_blobs(d):
    """Every blob in a skopeo dir: layout hashes to its file name."""
    got = set()
    for n in os.listdir(d):
        if n in ("manifest.json", "version"):
            continue
        hexd = n[:-len(".manifest.json")] if n.endswith(".manifest.json") else n
        with open(os.path.join(d, n), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == hexd, n
        got.add("sha256:" + hexd)
    return got


def test_push_pull_roundtrip(wharf, tmp_path):
    src = str(tmp_path / "src")
    mdigest, blobs = images.single(src)
    skopeo("copy", *TLS, f"oci:{src}:v1", ref(wharf, "team/app:v1"))
    out = str(tmp_path / "out")
    skopeo("copy", *TLS, ref(wharf, "team/app:v1"), f"dir:{out}")
    got = check_dir_blobs(out)
    assert got == set(blobs)
    with open(os.path.join(out, "manifest.json"), "rb") as f:
        assert images.sha256(f.read()) == mdigest
    # The registry reports the same digest.
    h = curl("-sI", "-H", "Accept: " + images.OCI_MANIFEST,
             f"{wharf.url}/v2/team/app/manifests/v1").stdout.decode()
    assert f"Docker-Content-Digest: {mdigest}" in h


def test_inspect_and_list_tags(wharf, tmp_path):
    src = str(tmp_path / "src")
    mdigest, _ = images.single(src, tag="1.0")
    for tag in ["1.0", "latest", "2.0-rc"]:
        skopeo("copy", *TLS, f"oci:{src}:1.0", ref(wharf, f"lib/tool:{tag}"))
    info = json.loads(skopeo("inspect", "--tls-verify=false", ref(wharf, "lib/tool:latest")).stdout)
    assert info["Digest"] == mdigest
    assert info["Architecture"] == "amd64"
    assert sorted(info["RepoTags"]) == ["1.0", "2.0-rc", "latest"]
    raw = skopeo("inspect", "--raw", "--tls-verify=false", ref(wharf, "lib/tool:1.0")).stdout
    assert images.sha256(raw.encode()) == mdigest
    tags = json.loads(skopeo("list-tags", "--tls-verify=false", ref(wharf, "lib/tool")).stdout)
    assert tags["Tags"] == ["1.0", "2.0-rc", "latest"]


def test_multi_arch_all(wharf, tmp_path):
    src = str(tmp_path / "src")
    idx, children, blobs = images.multi_arch(src)
    skopeo("copy", "--all", *TLS, f"oci:{src}:multi", ref(wharf, "multi/img:multi"))
    out = str(tmp_path / "out")
    skopeo("copy", "--all", *TLS, ref(wharf, "multi/img:multi"), f"dir:{out}")
    got = check_dir_blobs(out)
    assert set(blobs) | set(children) == got
    for c in children:
        r = curl("-s", "-o", "/dev/null", "-w", "%{http_code}",
                 f"{wharf.url}/v2/multi/img/manifests/{c}")
        assert r.stdout == b"200"
    h = curl("-sI", f"{wharf.url}/v2/multi/img/manifests/multi").stdout.decode()
    assert f"Docker-Content-Digest: {idx}" in h
    assert f"Content-Type: {images.OCI_INDEX}" in h


def test_index_by_tag_for_a_client_that_cannot_take_it(wharf, tmp_path):
    """Scripts that send only the image manifest types (`curl -H 'Accept:
    application/vnd.docker.distribution.manifest.v2+json'`, old clients) get
    the index's linux/amd64 manifest by tag, as from the reference registry
    and Docker Hub; by digest there is nothing to substitute."""
    src = str(tmp_path / "src")
    idx, children, _ = images.multi_arch(src, archs=("arm64", "amd64"))
    skopeo("copy", "--all", *TLS, f"oci:{src}:multi", ref(wharf, "plat/img:multi"))
    amd64 = children[1]
    for method in ("GET", "HEAD"):
        r = call(method, f"{wharf.url}/v2/plat/img/manifests/multi", headers={"Accept": images.OCI_MANIFEST})
        assert r.status == 200, r
        assert r.headers["docker-content-digest"] == amd64
        assert r.headers["content-type"] == images.OCI_MANIFEST
        if method == "GET":
            assert images.sha256(r.body) == amd64
    r = call("GET", f"{wharf.url}/v2/plat/img/manifests/multi",
             headers={"Accept": f"{images.OCI_MANIFEST}, {images.OCI_INDEX}"})
    assert r.headers["docker-content-digest"] == idx
    r = call("GET", f"{wharf.url}/v2/plat/img/manifests/{idx}", headers={"Accept": images.OCI_MANIFEST})
    assert r.status == 404 and r.code() == "MANIFEST_UNKNOWN"
    assert "does not allow" in r.json()["errors"][0]["message"]
    # The amd64 entry is an OCI manifest, which this client cannot take either.
    r = call("GET", f"{wharf.url}/v2/plat/img/manifests/multi",
             headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    assert r.status == 404 and r.code() == "MANIFEST_UNKNOWN"


def test_delete_with_skopeo(make_wharf, tmp_path):
    w = make_wharf(env={"REGISTRY_STORAGE_DELETE_ENABLED": "true"}).start()
    src = str(tmp_path / "src")
    images.single(src)
    skopeo("copy", *TLS, f"oci:{src}:v1", ref(w, "del/me:v1"))
    skopeo("delete", "--tls-verify=false", ref(w, "del/me:v1"))
    r = skopeo("inspect", "--tls-verify=false", ref(w, "del/me:v1"), check=False)
    assert r.returncode != 0 and "manifest unknown" in r.stderr.lower()


def test_delete_refused_when_disabled(wharf, tmp_path):
    src = str(tmp_path / "src")
    images.single(src)
    skopeo("copy", *TLS, f"oci:{src}:v1", ref(wharf, "keep/me:v1"))
    r = skopeo("delete", "--tls-verify=false", ref(wharf, "keep/me:v1"), check=False)
    assert r.returncode != 0
    skopeo("inspect", "--tls-verify=false", ref(wharf, "keep/me:v1"))


def test_read_only_maintenance_mode(make_wharf, tmp_path):
    """REGISTRY_STORAGE_MAINTENANCE_READONLY as the reference registry's
    users set it: pulls work, every push and delete is refused with 405
    UNSUPPORTED before anything is stored, and the store is unchanged."""
    w = make_wharf(env={"REGISTRY_STORAGE_DELETE_ENABLED": "true"}).start()
    src = str(tmp_path / "src")
    mdigest, blobs = images.single(src)
    skopeo("copy", *TLS, f"oci:{src}:v1", ref(w, "team/app:v1"))
    w.stop()
    w.env["REGISTRY_STORAGE_MAINTENANCE_READONLY"] = '{"enabled": true}'
    w.start()
    assert "storage.read_only: pushes and deletes are refused" in w.stderr()
    out = str(tmp_path / "out")
    skopeo("copy", *TLS, ref(w, "team/app:v1"), f"dir:{out}")
    assert check_dir_blobs(out) == set(blobs)
    other = str(tmp_path / "other")
    images.single(other, seed=7)
    r = skopeo("copy", *TLS, f"oci:{other}:v1", ref(w, "team/new:v1"), check=False)
    assert r.returncode != 0 and "read-only" in r.stderr, r.stderr
    for method, path in [("POST", "/v2/team/new/blobs/uploads/"),
                         ("PUT", "/v2/team/app/manifests/v2"),
                         ("DELETE", f"/v2/team/app/manifests/{mdigest}"),
                         ("DELETE", f"/v2/team/app/blobs/{blobs[0]}")]:
        r = curl("-s", "-X", method, "-w", "\n%{http_code}", w.url + path).stdout.decode()
        body, status = r.rsplit("\n", 1)
        assert status == "405" and json.loads(body)["errors"][0]["code"] == "UNSUPPORTED", (method, path, r)
    assert curl("-s", w.url + "/v2/team/new/tags/list").stdout.count(b"NAME_UNKNOWN") == 1
    assert json.loads(curl("-s", w.url + "/v2/team/app/tags/list").stdout)["tags"] == ["v1"]
    # Off again: pushes work.
    w.stop()
    del w.env["REGISTRY_STORAGE_MAINTENANCE_READONLY"]
    w.start()
    skopeo("copy", *TLS, f"oci:{other}:v1", ref(w, "team/new:v1"))
