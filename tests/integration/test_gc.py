"""wharf gc: mark and sweep, offline and against a running server."""
import json
import os
import subprocess
import time

import images
from conftest import WHARF_BIN, call
from test_api import push_blob, simple_image
from test_skopeo import TLS, check_dir_blobs, skopeo


def gc(w, *flags):
    r = subprocess.run([WHARF_BIN, "gc", *flags], env=w.env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def blob_file(w, digest):
    return os.path.join(w.root, "blobs", "sha256", digest[7:9], digest[7:])


def test_gc_offline_respects_dry_run_and_keeps_referenced(make_wharf):
    w = make_wharf(env={"WHARF_STORAGE_GC_GRACE_MINUTES": "0"}).start()
    md, body, cd, ld = simple_image(w, "keep")
    orphan = push_blob(w, "keep", b"never referenced")
    w.stop()
    rep = gc(w, "--dry-run")
    assert rep["dry_run"] is True and rep["blobs_deleted"] == 1
    assert os.path.exists(blob_file(w, orphan))
    rep = gc(w)
    assert rep["blobs_deleted"] == 1 and rep["bytes_freed"] == len(b"never referenced")
    assert not os.path.exists(blob_file(w, orphan))
    for d in (md, cd, ld):
        assert os.path.exists(blob_file(w, d))
    w.start()
    assert call("GET", f"{w.url}/v2/keep/manifests/v1").body == body
    assert call("HEAD", f"{w.url}/v2/keep/blobs/{ld}").status == 200
    assert call("HEAD", f"{w.url}/v2/keep/blobs/{orphan}").status == 404


def test_gc_online_deletes_untagged(make_wharf):
    w = make_wharf(env={"WHARF_STORAGE_GC_GRACE_MINUTES": "0",
                        "REGISTRY_STORAGE_DELETE_ENABLED": "true"}).start()
    keep_md, keep_body, _, keep_layer = simple_image(w, "repo", tag="keep", seed=b"k")
    old_md, _, _, old_layer = simple_image(w, "repo", tag="old", seed=b"o")
    assert call("DELETE", f"{w.url}/v2/repo/manifests/old").status == 202
    assert "\nwharf_gc_last_success_timestamp_seconds 0\n" in call("GET", f"{w.url}/metrics").body.decode()
    gc(w, "--dry-run")  # not counted: nothing was deleted
    rep = gc(w, "--delete-untagged")  # the server is running: goes over the admin socket
    assert rep["untagged_deleted"] == 1
    m = call("GET", f"{w.url}/metrics").body.decode()
    assert 'wharf_gc_runs_total{result="ok"} 1\n' in m
    assert f"\nwharf_gc_deleted_blobs_total {rep['blobs_deleted']}\n" in m and rep["blobs_deleted"] > 0
    assert call("GET", f"{w.url}/v2/repo/manifests/{old_md}").status == 404
    assert not os.path.exists(blob_file(w, old_layer))
    assert call("GET", f"{w.url}/v2/repo/manifests/keep").body == keep_body
    assert call("HEAD", f"{w.url}/v2/repo/blobs/{keep_layer}").status == 200


def test_gc_grace_protects_fresh_blobs(make_wharf):
    w = make_wharf().start()  # default grace: 60 minutes
    d = push_blob(w, "fresh", b"just pushed, manifest not yet")
    rep = gc(w)
    assert rep["blobs_deleted"] == 0 and rep["blobs_in_grace"] == 1
    assert call("HEAD", f"{w.url}/v2/fresh/blobs/{d}").status == 200


def test_admin_endpoint_not_reachable_over_tcp(wharf):
    r = call("POST", f"{wharf.url}/admin/gc")
    assert r.status == 404
    sock = os.path.join(wharf.root, "admin.sock")
    assert oct(os.stat(sock).st_mode & 0o777) == "0o600"


def test_scheduled_gc_while_serving(make_wharf):
    """storage.gc_interval_seconds: the server collects by itself, as zot's
    and Harbor's scheduled gc do, and what is tagged keeps working."""
    w = make_wharf(env={"WHARF_STORAGE_GC_GRACE_MINUTES": "0",
                        "REGISTRY_STORAGE_DELETE_ENABLED": "true"}).start()
    _, keep_body, _, keep_layer = simple_image(w, "repo", tag="keep", seed=b"k")
    old_md, _, _, old_layer = simple_image(w, "repo", tag="old", seed=b"o")
    assert call("DELETE", f"{w.url}/v2/repo/manifests/old").status == 202
    orphan = push_blob(w, "repo", b"never referenced")
    w.stop()  # pushed before scheduled gc runs: no push can race with it here
    w.env.update({"WHARF_STORAGE_GC_INTERVAL_SECONDS": "1", "WHARF_STORAGE_GC_DELETE_UNTAGGED": "true"})
    w.start()
    deadline = time.time() + 30
    while (os.path.exists(blob_file(w, orphan)) or os.path.exists(blob_file(w, old_layer))) \
            and time.time() < deadline:
        time.sleep(0.2)
    assert not os.path.exists(blob_file(w, orphan)) and not os.path.exists(blob_file(w, old_layer))
    assert "scheduled gc: " in w.stderr() + w.stdout()
    m = call("GET", f"{w.url}/metrics").body.decode()
    assert 'wharf_gc_runs_total{result="ok"} ' in m and 'wharf_gc_runs_total{result="failed"} 0\n' in m
    assert "wharf_gc_deleted_blobs_total " in m and "\nwharf_gc_deleted_blobs_total 0\n" not in m
    assert "\nwharf_gc_deleted_manifests_total 1\n" in m
    assert "\nwharf_gc_last_success_timestamp_seconds 0\n" not in m
    assert call("GET", f"{w.url}/v2/repo/manifests/{old_md}").status == 404
    assert call("GET", f"{w.url}/v2/repo/manifests/keep").body == keep_body
    assert call("HEAD", f"{w.url}/v2/repo/blobs/{keep_layer}").status == 200


def test_retention_rules_expire_tags_then_gc_frees_them(make_wharf, tmp_path):
    """A CI repository that keeps its 2 newest tags and "stable", pushed with
    skopeo; another repository no rule governs keeps everything."""
    w = make_wharf(env={"WHARF_STORAGE_GC_GRACE_MINUTES": "0", "REGISTRY_STORAGE_DELETE_ENABLED": "true",
                        "WHARF_STORAGE_RETENTION": json.dumps(
                            [{"prefix": "ci", "keep_last": 2, "keep_tags": ["stable"]}])}).start()
    src = str(tmp_path / "multi")
    idx, children, multi_blobs = images.multi_arch(src)
    skopeo("copy", "--all", *TLS, f"oci:{src}:multi", f"docker://127.0.0.1:{w.port}/ci/app:m0")
    time.sleep(0.01)
    pushed = {}
    for tags, seed_n in ((("stable", "t1"), 1), (("t2",), 2), (("t3",), 3), (("t4",), 4)):
        src = str(tmp_path / f"src{seed_n}")
        md, blobs = images.single(src, tag="x", seed=seed_n)
        for tag in tags:
            skopeo("copy", *TLS, f"oci:{src}:x", f"docker://127.0.0.1:{w.port}/ci/app:{tag}")
            skopeo("copy", *TLS, f"oci:{src}:x", f"docker://127.0.0.1:{w.port}/team/app:{tag}")
            pushed[tag] = (md, blobs)
        time.sleep(0.01)  # each push a moment newer than the last
    # A manifest that no tag ever pointed at when gc ran is not retention's.
    loose, _, _, _ = simple_image(w, "ci/app", tag="loose", seed=b"l")
    assert call("DELETE", f"{w.url}/v2/ci/app/manifests/loose").status == 202
    # m0, t1, t2 go. The index takes its entries along; t1's image stays for
    # "stable", and t2's blobs for team/app, which no rule governs.
    for flags in (["--dry-run"], []):
        rep = gc(w, *flags)
        assert rep["tags_expired"] == 3 and rep["untagged_deleted"] == 4, rep
        assert rep["blobs_deleted"] == len(multi_blobs) + len(children) + 1, rep  # and the index's file
    assert call("GET", f"{w.url}/v2/ci/app/tags/list").json()["tags"] == ["stable", "t3", "t4"]
    assert "\nwharf_gc_expired_tags_total 3\n" in call("GET", f"{w.url}/metrics").body.decode()
    for gone in (idx, *children, pushed["t2"][0]):
        assert call("GET", f"{w.url}/v2/ci/app/manifests/{gone}").status == 404, gone
    for kept in (loose, pushed["t1"][0]):
        assert call("GET", f"{w.url}/v2/ci/app/manifests/{kept}").status == 200, kept
    assert call("GET", f"{w.url}/v2/team/app/tags/list").json()["tags"] == ["stable", "t1", "t2", "t3", "t4"]
    # Once team/app lets t2 go too, its blobs are garbage.
    w.stop()
    w.env["WHARF_STORAGE_RETENTION"] = json.dumps([{"prefix": "", "keep_last": 2, "keep_tags": ["stable"]}])
    rep = gc(w)
    assert rep["tags_expired"] == 2 and rep["untagged_deleted"] == 1, rep
    assert rep["blobs_deleted"] == len(pushed["t2"][1]) + 1, rep  # and the manifest's own file
    for b in pushed["t2"][1]:
        assert not os.path.exists(blob_file(w, b))
    w.start()
    out = str(tmp_path / "t3")
    skopeo("copy", *TLS, f"docker://127.0.0.1:{w.port}/ci/app:t3", f"dir:{out}")
    assert check_dir_blobs(out) == set(pushed["t3"][1])
