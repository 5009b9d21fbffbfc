"""wharf import-registry: the storage directory of Debian's docker-registry
(the reference registry) becomes Wharf's pushed content, offline and through
a running server; what is damaged is skipped and named."""
import json
import os
import subprocess
import time

import images
from conftest import WHARF_BIN, call
from test_proxy import proxy_env, seed
from test_skopeo import TLS, check_dir_blobs, skopeo
from upstream import Registry


def import_registry(w, path, *flags):
    r = subprocess.run([WHARF_BIN, "import-registry", *flags, path], env=w.env, capture_output=True,
                       text=True, timeout=300)
    return r.returncode, (json.loads(r.stdout) if r.stdout.strip() else None), r.stderr


def blob_path(root, digest):
    hexd = digest.split(":", 1)[1]
    return os.path.join(root, "blobs", "sha256", hexd[:2], hexd)


def test_import_from_the_reference_registry(make_wharf, tmp_path):
    old = Registry(str(tmp_path / "old")).start()
    pushed = {}  # name:tag -> (manifest digest, what skopeo stores under its digest)
    for name, tag, seed_n in (("team/app", "v1", 1), ("team/app", "v2", 2), ("a/b/c", "x", 3),
                              ("broken/img", "v1", 4)):
        src = str(tmp_path / f"src{seed_n}")
        md, blobs = images.single(src, tag=tag, seed=seed_n)
        skopeo("copy", *TLS, f"oci:{src}:{tag}", f"docker://127.0.0.1:{old.port}/{name}:{tag}")
        pushed[f"{name}:{tag}"] = (md, set(blobs))
    src = str(tmp_path / "multi")
    idx, children, blobs = images.multi_arch(src)
    skopeo("copy", "--all", *TLS, f"oci:{src}:multi", f"docker://127.0.0.1:{old.port}/team/multi:1")
    pushed["team/multi:1"] = (idx, set(blobs) | set(children))
    old.stop()
    # A layer of broken/img rots on the old registry's disk.
    bad_layer = images.single(str(tmp_path / "again4"), seed=4)[1][-1]
    with open(old.blob_data_path(bad_layer), "r+b") as f:
        f.seek(100)
        f.write(b"\0rot\0")

    # Stray files an operator left behind are passed over.
    v2 = os.path.join(old.root, "docker", "registry", "v2")
    strays = ["repositories/notes.txt"]
    for d in ("_layers", "_manifests/revisions"):
        strays += [f"repositories/team/app/{d}/README-{i}" for i in range(12)]
    for stray in strays:
        with open(os.path.join(v2, stray), "w") as f:
            f.write("not a registry file\n")

    w = make_wharf()
    rc, rep, err = import_registry(w, old.root)
    assert rc == 1, err  # something was skipped
    assert "import: team/app: 8 blobs (" in err and "2 manifests, 2 tags, 0 skipped" in err, err
    assert rep["repositories"] == 4 and rep["manifests"] == 6 and rep["tags"] == 4, json.dumps(rep, indent=1)
    assert rep["bytes"] > 0
    skipped = "\n".join(rep["skipped"])
    assert len(rep["skipped"]) == 3, skipped
    assert f"broken/img: blob {bad_layer}: content has digest" in skipped
    assert f"broken/img: manifest {pushed['broken/img:v1'][0]}: references {bad_layer}" in skipped
    assert "broken/img: tag v1: its manifest" in skipped
    # Same filesystem: the layer files are the old registry's, linked, not copied.
    layer = images.single(str(tmp_path / "again1"), seed=1)[1][-1]
    assert os.stat(blob_path(w.root, layer)).st_ino == os.stat(old.blob_data_path(layer)).st_ino

    w.start()
    for ref, (digest, want) in pushed.items():
        if ref.startswith("broken/"):
            r = call("GET", f"{w.url}/v2/broken/img/manifests/v1")
            assert r.status == 404 and r.code() == "MANIFEST_UNKNOWN"
            continue
        out = str(tmp_path / ("out-" + ref.replace("/", "_").replace(":", "_")))
        skopeo("copy", "--all", *TLS, f"docker://127.0.0.1:{w.port}/{ref}", f"dir:{out}")
        assert check_dir_blobs(out) == want, ref
        head = call("HEAD", f"{w.url}/v2/{ref.replace(':', '/manifests/')}")
        assert head.headers["docker-content-digest"] == digest, ref
    tags = call("GET", f"{w.url}/v2/team/app/tags/list").json()
    assert tags["tags"] == ["v1", "v2"]

    # Again, into the running server (its admin socket): nothing new, and
    # everything still there.
    rc, rep, err = import_registry(w, old.root)
    assert rc == 1, err
    assert rep["blobs"] == 0 and rep["bytes"] == 0 and rep["manifests"] == 6 and rep["tags"] == 4, rep
    out = str(tmp_path / "again")
    skopeo("copy", *TLS, f"docker://127.0.0.1:{w.port}/a/b/c:x", f"dir:{out}")
    assert check_dir_blobs(out) == pushed["a/b/c:x"][1]


def test_import_refuses_what_is_not_a_registry(make_wharf, tmp_path):
    w = make_wharf()
    (tmp_path / "empty").mkdir()
    rc, rep, err = import_registry(w, str(tmp_path / "empty"))
    assert rc == 1 and rep is None
    assert "is not the reference registry's storage" in err, err
    rc, rep, err = import_registry(w, str(tmp_path / "nowhere"))
    assert rc == 1 and "No such file" in err, err


def test_import_a_pull_through_cache_as_the_proxys_cache(make_wharf, tmp_path):
    """A reference registry that ran as a Docker Hub mirror (proxy.remoteurl)
    hands its cache over: Wharf serves it as content it pulled itself, even
    with the upstream gone, and counts it as cached, never hosted."""
    up = Registry(str(tmp_path / "hub")).start()
    mdigest, blobs = seed(up, tmp_path)  # library/app:v1
    src = str(tmp_path / "multi")
    _, (amd64, _), multi_blobs = images.multi_arch(src)
    skopeo("copy", "--all", *TLS, f"oci:{src}:multi", f"docker://127.0.0.1:{up.port}/library/multi:1")
    mirror = Registry(str(tmp_path / "mirror"), proxy=up.url).start()
    # Through the mirror: one image, and one platform of the other, as
    # docker pulls.
    pulled = {"app": blobs, "multi": multi_blobs[:3]}  # config and layers of amd64
    for name, tag in (("app", "v1"), ("multi", "1")):
        skopeo("--override-arch", "amd64", "copy", *TLS, f"docker://127.0.0.1:{mirror.port}/library/{name}:{tag}",
               f"dir:{tmp_path / ('through-' + name)}")
        # It stores what it streamed in the background: wait until every
        # blob is linked into the repository (the link follows the data).
        layers = os.path.join(mirror.root, "docker", "registry", "v2", "repositories", "library", name, "_layers")
        deadline = time.time() + 20
        while time.time() < deadline and not all(
                os.path.exists(os.path.join(layers, "sha256", b[7:], "link")) for b in pulled[name]):
            time.sleep(0.05)
    mirror.stop()

    w = make_wharf(env=proxy_env(up.url, WHARF_PROXY_ENABLED="true"))
    rc, rep, err = import_registry(w, mirror.root, "--cache", "ghcr.io")
    assert rc == 2 and "the proxy does not serve that registry" in err, err
    rc, rep, err = import_registry(w, mirror.root, "--cache", "docker.io")
    assert rc == 0, (err, json.dumps(rep, indent=1))
    # The index of library/multi comes without its arm64 entry, as a cache has it.
    assert rep["cached"] and rep["manifests"] == 3 and rep["blobs"] == len(blobs) + 3, rep
    up.stop()  # the upstream is gone: only the imported cache can answer
    w.start()
    out = str(tmp_path / "from-wharf")
    skopeo("copy", *TLS, f"docker://127.0.0.1:{w.port}/library/app:v1", f"dir:{out}")
    assert check_dir_blobs(out) == set(blobs)
    assert call("HEAD", f"{w.url}/v2/library/app/manifests/{mdigest}").status == 200
    out = str(tmp_path / "multi-from-wharf")
    skopeo("--override-arch", "amd64", "copy", *TLS, f"docker://127.0.0.1:{w.port}/library/multi:1", f"dir:{out}")
    assert check_dir_blobs(out) == set(pulled["multi"])
    assert call("HEAD", f"{w.url}/v2/library/multi/manifests/{amd64}").status == 200
    metrics = call("GET", f"{w.url}/metrics").body.decode()
    assert 'wharf_storage_bytes{origin="hosted"} 0' in metrics, metrics
    assert 'wharf_storage_bytes{origin="cached"} 0' not in metrics
    # Not a hosted repository: the catalog does not list it.
    assert call("GET", f"{w.url}/v2/_catalog").json()["repositories"] == []
