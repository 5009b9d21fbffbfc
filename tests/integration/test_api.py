"""Every endpoint of the OCI distribution API, driven with curl, including
every error code the server can return."""
import hashlib
import json
import os
import subprocess
import threading
import time

import pytest

import images
from conftest import call, curl

D0 = "sha256:" + "0" * 64  # a well-formed digest of nothing we store


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def push_blob(w, repo, data):
    d = sha(data)
    r = call("POST", f"{w.url}/v2/{repo}/blobs/uploads/?digest={d}", data)
    assert r.status == 201, r
    return d


def put_manifest(w, repo, ref, body, media=images.OCI_MANIFEST):
    return call("PUT", f"{w.url}/v2/{repo}/manifests/{ref}", body, {"Content-Type": media})


def simple_image(w, repo, tag="v1", seed=b"x", extra=None):
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed.decode()}).encode()
    layer = b"layer-" + seed * 1000
    cd, ld = push_blob(w, repo, cfg), push_blob(w, repo, layer)
    m = {"schemaVersion": 2, "mediaType": images.OCI_MANIFEST,
         "config": {"mediaType": images.OCI_CONFIG, "digest": cd, "size": len(cfg)},
         "layers": [{"mediaType": images.OCI_LAYER, "digest": ld, "size": len(layer)}]}
    m.update(extra or {})
    body = json.dumps(m).encode()
    r = put_manifest(w, repo, tag, body)
    assert r.status == 201, r
    return sha(body), body, cd, ld


# ---------------------------------------------------------------- uploads

def test_monolithic_post(wharf):
    d = sha(b"hello")
    r = call("POST", f"{wharf.url}/v2/a/blobs/uploads/?digest={d}", b"hello")
    assert r.status == 201
    assert r.headers["location"] == f"/v2/a/blobs/{d}"
    assert r.headers["docker-content-digest"] == d
    assert call("GET", f"{wharf.url}/v2/a/blobs/{d}").body == b"hello"


def test_post_then_put(wharf):
    r = call("POST", f"{wharf.url}/v2/a/b/blobs/uploads/")
    assert r.status == 202
    loc = r.headers["location"]
    assert loc.startswith("/v2/a/b/blobs/uploads/") and r.headers["docker-upload-uuid"] in loc
    assert r.headers["range"] == "0-0"
    data = os.urandom(5000)
    r = call("PUT", f"{wharf.url}{loc}?digest={sha(data)}", data)
    assert r.status == 201, r
    assert call("GET", f"{wharf.url}/v2/a/b/blobs/{sha(data)}").body == data


def test_chunked_patch_with_content_range(wharf):
    loc = call("POST", f"{wharf.url}/v2/chunky/blobs/uploads/").headers["location"]
    data = os.urandom(30000)
    parts = [data[:10000], data[10000:25000], data[25000:]]
    off = 0
    for p in parts:
        r = call("PATCH", f"{wharf.url}{loc}", p,
                 {"Content-Range": f"{off}-{off + len(p) - 1}",
                  "Content-Type": "application/octet-stream"})
        assert r.status == 202, r
        off += len(p)
        assert r.headers["range"] == f"0-{off - 1}"
        loc = r.headers["location"]
    st = call("GET", f"{wharf.url}{loc}")
    assert st.status == 204 and st.headers["range"] == f"0-{len(data) - 1}"
    r = call("PUT", f"{wharf.url}{loc}?digest={sha(data)}")
    assert r.status == 201
    assert call("GET", f"{wharf.url}/v2/chunky/blobs/{sha(data)}").body == data


def test_out_of_order_chunk_is_416(wharf):
    loc = call("POST", f"{wharf.url}/v2/ooo/blobs/uploads/").headers["location"]
    assert call("PATCH", f"{wharf.url}{loc}", b"abcd", {"Content-Range": "0-3"}).status == 202
    r = call("PATCH", f"{wharf.url}{loc}", b"zz", {"Content-Range": "10-11"})
    assert r.status == 416 and r.code() == "BLOB_UPLOAD_INVALID"
    assert r.headers["range"] == "0-3"
    # The upload is intact and can continue in order.
    assert call("PATCH", f"{wharf.url}{loc}", b"ef", {"Content-Range": "4-5"}).status == 202
    assert call("PUT", f"{wharf.url}{loc}?digest={sha(b'abcdef')}").status == 201


def test_malformed_content_range_and_length_mismatch(wharf):
    loc = call("POST", f"{wharf.url}/v2/cr/blobs/uploads/").headers["location"]
    r = call("PATCH", f"{wharf.url}{loc}", b"abcd", {"Content-Range": "nonsense"})
    assert r.status == 400 and r.code() == "BLOB_UPLOAD_INVALID"
    r = call("PATCH", f"{wharf.url}{loc}", b"abcd", {"Content-Range": "0-9"})
    assert r.status == 400 and r.code() == "SIZE_INVALID"


def test_streamed_patch_without_content_range(wharf, tmp_path):
    loc = call("POST", f"{wharf.url}/v2/stream/blobs/uploads/").headers["location"]
    data = os.urandom(3 << 20)
    f = tmp_path / "data"
    f.write_bytes(data)
    # curl -T - sends chunked transfer encoding.
    r = subprocess.run(["curl", "-sS", "-X", "PATCH", "-T", "-", "-D", "-", "-o", "/dev/null",
                        f"{wharf.url}{loc}"], input=data, capture_output=True)
    head = r.stdout.decode()
    assert " 202 " in head.splitlines()[0] or "202 Accepted" in head, head
    assert f"Range: 0-{len(data) - 1}" in head
    assert call("PUT", f"{wharf.url}{loc}?digest={sha(data)}").status == 201


def test_put_with_final_chunk_in_body(wharf):
    loc = call("POST", f"{wharf.url}/v2/fin/blobs/uploads/").headers["location"]
    call("PATCH", f"{wharf.url}{loc}", b"first-", {"Content-Range": "0-5"})
    r = call("PUT", f"{wharf.url}{loc}?digest={sha(b'first-last')}", b"last",
             {"Content-Range": "6-9"})
    assert r.status == 201, r


def test_digest_mismatch_stores_nothing(wharf):
    r = call("POST", f"{wharf.url}/v2/bad/blobs/uploads/?digest={sha(b'other')}", b"content")
    assert r.status == 400 and r.code() == "DIGEST_INVALID"
    assert call("HEAD", f"{wharf.url}/v2/bad/blobs/{sha(b'content')}").status == 404
    assert call("HEAD", f"{wharf.url}/v2/bad/blobs/{sha(b'other')}").status == 404
    # The upload is gone after a failed completion.
    loc = call("POST", f"{wharf.url}/v2/bad/blobs/uploads/").headers["location"]
    call("PATCH", f"{wharf.url}{loc}", b"abc")
    assert call("PUT", f"{wharf.url}{loc}?digest={sha(b'xyz')}").code() == "DIGEST_INVALID"
    assert call("GET", f"{wharf.url}{loc}").status == 404


def test_upload_errors(wharf):
    u = f"{wharf.url}/v2/e/blobs/uploads/00000000-0000-4000-8000-000000000000"
    for m in ["GET", "PATCH", "PUT", "DELETE"]:
        r = call(m, u)
        assert r.status == 404 and r.code() == "BLOB_UPLOAD_UNKNOWN", (m, r)
    loc = call("POST", f"{wharf.url}/v2/e/blobs/uploads/").headers["location"]
    r = call("PUT", f"{wharf.url}{loc}")
    assert r.status == 400 and r.code() == "DIGEST_INVALID"
    r = call("PUT", f"{wharf.url}{loc}?digest=md5:abc")
    assert r.status == 400 and r.code() == "DIGEST_INVALID"
    # An upload belongs to its repository.
    uuid = loc.rsplit("/", 1)[1]
    assert call("GET", f"{wharf.url}/v2/other/blobs/uploads/{uuid}").status == 404


def test_cancel_upload(wharf):
    loc = call("POST", f"{wharf.url}/v2/c/blobs/uploads/").headers["location"]
    call("PATCH", f"{wharf.url}{loc}", b"abc")
    assert call("DELETE", f"{wharf.url}{loc}").status == 204
    assert call("GET", f"{wharf.url}{loc}").status == 404


def test_sha512_blob(wharf):
    data = b"sha512 content"
    d = "sha512:" + hashlib.sha512(data).hexdigest()
    r = call("POST", f"{wharf.url}/v2/s5/blobs/uploads/?digest={d}", data)
    assert r.status == 201, r
    r = call("GET", f"{wharf.url}/v2/s5/blobs/{d}")
    assert r.body == data and r.headers["docker-content-digest"] == d


def test_unknown_digest_algorithm(wharf):
    r = call("GET", f"{wharf.url}/v2/a/blobs/md5:d41d8cd98f00b204e9800998ecf8427e")
    assert r.status == 400 and r.code() == "DIGEST_INVALID"
    r = call("GET", f"{wharf.url}/v2/a/blobs/sha256:ABC")
    assert r.status == 400 and r.code() == "DIGEST_INVALID"


# ---------------------------------------------------------------- mount

def test_cross_repo_mount(wharf):
    d = push_blob(wharf, "src/repo", b"shared layer")
    r = call("POST", f"{wharf.url}/v2/dst/repo/blobs/uploads/?mount={d}&from=src/repo")
    assert r.status == 201 and r.headers["location"] == f"/v2/dst/repo/blobs/{d}"
    assert call("GET", f"{wharf.url}/v2/dst/repo/blobs/{d}").body == b"shared layer"


def test_mount_falls_back_to_upload(wharf):
    d = push_blob(wharf, "src2", b"private")
    for q in [f"mount={D0}&from=src2", f"mount={d}&from=nowhere", f"mount={d}"]:
        r = call("POST", f"{wharf.url}/v2/dst2/blobs/uploads/?{q}")
        assert r.status == 202 and "/blobs/uploads/" in r.headers["location"], (q, r)
    assert call("HEAD", f"{wharf.url}/v2/dst2/blobs/{d}").status == 404


# ---------------------------------------------------------------- blobs

def test_blob_visible_only_where_pushed(wharf):
    d = push_blob(wharf, "one", b"mine")
    assert call("HEAD", f"{wharf.url}/v2/one/blobs/{d}").status == 200
    r = call("GET", f"{wharf.url}/v2/two/blobs/{d}")
    assert r.status == 404 and r.code() == "BLOB_UNKNOWN"


def test_blob_headers_and_head(wharf):
    data = os.urandom(12345)
    d = push_blob(wharf, "h", data)
    r = call("HEAD", f"{wharf.url}/v2/h/blobs/{d}")
    assert r.status == 200 and r.body == b""
    assert r.headers["content-length"] == "12345"
    assert r.headers["docker-content-digest"] == d
    assert r.headers["etag"] == f'"{d}"'
    assert r.headers["accept-ranges"] == "bytes"
    r = call("GET", f"{wharf.url}/v2/h/blobs/{d}", headers={"If-None-Match": f'"{d}"'})
    assert r.status == 304 and r.body == b""


def test_range_reads(wharf):
    data = bytes(range(256)) * 40
    d = push_blob(wharf, "r", data)
    u = f"{wharf.url}/v2/r/blobs/{d}"
    r = call("GET", u, headers={"Range": "bytes=10-19"})
    assert r.status == 206 and r.body == data[10:20]
    assert r.headers["content-range"] == f"bytes 10-19/{len(data)}"
    r = call("GET", u, headers={"Range": "bytes=10000-"})
    assert r.status == 206 and r.body == data[10000:]
    r = call("GET", u, headers={"Range": "bytes=-5"})
    assert r.status == 206 and r.body == data[-5:]
    r = call("GET", u, headers={"Range": f"bytes=0-{len(data) + 100}"})
    assert r.status == 206 and r.body == data
    r = call("GET", u, headers={"Range": f"bytes={len(data)}-"})
    assert r.status == 416 and r.headers["content-range"] == f"bytes */{len(data)}"
    r = call("GET", u, headers={"Range": "bytes=0-1,5-6"})  # multiple ranges: whole body
    assert r.status == 200 and r.body == data


def test_blob_delete(make_wharf):
    w = make_wharf(env={"REGISTRY_STORAGE_DELETE_ENABLED": "1"}).start()
    d = push_blob(w, "del", b"bye")
    assert call("DELETE", f"{w.url}/v2/del/blobs/{d}").status == 202
    assert call("GET", f"{w.url}/v2/del/blobs/{d}").status == 404
    assert call("DELETE", f"{w.url}/v2/del/blobs/{d}").code() == "BLOB_UNKNOWN"


def test_blob_delete_disabled_is_unsupported(wharf):
    d = push_blob(wharf, "nodel", b"stay")
    r = call("DELETE", f"{wharf.url}/v2/nodel/blobs/{d}")
    assert r.status == 405 and r.code() == "UNSUPPORTED"
    assert call("GET", f"{wharf.url}/v2/nodel/blobs/{d}").body == b"stay"


# ---------------------------------------------------------------- manifests

def test_manifest_put_get_head(wharf):
    md, body, _, _ = simple_image(wharf, "m/img")
    for ref in ["v1", md]:
        r = call("GET", f"{wharf.url}/v2/m/img/manifests/{ref}",
                 headers={"Accept": images.OCI_MANIFEST})
        assert r.status == 200 and r.body == body
        assert r.headers["content-type"] == images.OCI_MANIFEST
        assert r.headers["docker-content-digest"] == md
        h = call("HEAD", f"{wharf.url}/v2/m/img/manifests/{ref}")
        assert h.status == 200 and h.headers["content-length"] == str(len(body))


def test_manifest_put_response(wharf):
    cfg = b"{}"
    cd = push_blob(wharf, "resp", cfg)
    body = json.dumps({"schemaVersion": 2, "mediaType": images.OCI_MANIFEST,
                       "config": {"mediaType": images.OCI_CONFIG, "digest": cd, "size": 2},
                       "layers": []}).encode()
    r = put_manifest(wharf, "resp", "t", body)
    assert r.status == 201
    assert r.headers["location"] == f"/v2/resp/manifests/{sha(body)}"
    assert r.headers["docker-content-digest"] == sha(body)
    # PUT by digest works and checks the digest.
    assert put_manifest(wharf, "resp", sha(body), body).status == 201
    r = put_manifest(wharf, "resp", D0, body)
    assert r.status == 400 and r.code() == "DIGEST_INVALID"


def test_docker_media_types_and_accept(wharf):
    cfg = b'{"architecture":"amd64"}'
    cd = push_blob(wharf, "dk", cfg)
    body = json.dumps({"schemaVersion": 2,
                       "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                                  "digest": cd, "size": len(cfg)},
                       "layers": []}).encode()
    r = put_manifest(wharf, "dk", "v2", body,
                     "application/vnd.docker.distribution.manifest.v2+json")
    assert r.status == 201, r
    ok = call("GET", f"{wharf.url}/v2/dk/manifests/v2", headers={
        "Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    assert ok.status == 200
    assert ok.headers["content-type"] == "application/vnd.docker.distribution.manifest.v2+json"
    no = call("GET", f"{wharf.url}/v2/dk/manifests/v2",
              headers={"Accept": images.OCI_INDEX})
    assert no.status == 404 and no.code() == "MANIFEST_UNKNOWN"
    assert call("GET", f"{wharf.url}/v2/dk/manifests/v2",
                headers={"Accept": "*/*"}).status == 200


def test_repeated_accept_headers_are_merged(wharf):
    simple_image(wharf, "acc")
    s = wharf.connect()
    s.sendall(b"GET /v2/acc/manifests/v1 HTTP/1.1\r\nHost: x\r\n"
              b"Accept: application/vnd.docker.distribution.manifest.v2+json\r\n"
              b"Accept: application/vnd.oci.image.manifest.v1+json\r\n\r\n")
    st, h, body = s.response()
    assert st == 200 and h["content-type"] == images.OCI_MANIFEST


def test_index_requires_children(wharf):
    md, body, _, _ = simple_image(wharf, "ix")
    index = {"schemaVersion": 2, "mediaType": images.OCI_INDEX,
             "manifests": [{"mediaType": images.OCI_MANIFEST, "digest": md, "size": len(body),
                            "platform": {"architecture": "amd64", "os": "linux"}}]}
    r = put_manifest(wharf, "ix", "multi", json.dumps(index).encode(), images.OCI_INDEX)
    assert r.status == 201
    index["manifests"].append({"mediaType": images.OCI_MANIFEST, "digest": D0, "size": 1})
    r = put_manifest(wharf, "ix", "broken", json.dumps(index).encode(), images.OCI_INDEX)
    assert r.status == 400 and r.code() == "MANIFEST_BLOB_UNKNOWN"
    assert r.json()["errors"][0]["detail"]["digest"] == D0


def test_manifest_validation_errors(wharf):
    cd = push_blob(wharf, "val", b"{}")
    good_cfg = {"mediaType": images.OCI_CONFIG, "digest": cd, "size": 2}

    def put(obj, media=images.OCI_MANIFEST):
        body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        return put_manifest(wharf, "val", "t", body, media)

    cases = [
        (b"not json", "MANIFEST_INVALID"),
        (b"[1,2]", "MANIFEST_INVALID"),
        ({"schemaVersion": 1, "name": "x"}, "MANIFEST_INVALID"),
        ({"schemaVersion": 2, "mediaType": images.OCI_MANIFEST, "layers": []}, "MANIFEST_INVALID"),
        ({"schemaVersion": 2, "mediaType": images.OCI_MANIFEST, "config": good_cfg},
         "MANIFEST_INVALID"),
        ({"schemaVersion": 2, "mediaType": images.OCI_MANIFEST, "config": good_cfg,
          "layers": [{"mediaType": images.OCI_LAYER, "digest": "sha256:xyz", "size": 1}]},
         "DIGEST_INVALID"),
        ({"schemaVersion": 2, "mediaType": images.OCI_MANIFEST, "config": good_cfg,
          "layers": [{"mediaType": images.OCI_LAYER, "digest": D0, "size": -1}]},
         "MANIFEST_INVALID"),
        ({"schemaVersion": 2, "mediaType": images.OCI_MANIFEST, "config": good_cfg,
          "layers": [{"mediaType": images.OCI_LAYER, "digest": D0, "size": 1}]},
         "MANIFEST_BLOB_UNKNOWN"),
        ({"schemaVersion": 2, "mediaType": images.OCI_INDEX, "config": good_cfg,
          "layers": []}, "MANIFEST_INVALID"),  # Content-Type disagrees with mediaType
        ({"schemaVersion": 2, "mediaType": "text/plain", "config": good_cfg, "layers": []},
         "MANIFEST_INVALID"),
    ]
    for obj, code in cases:
        r = put(obj)
        assert r.status == 400 and r.code() == code, (obj, r)
    assert call("GET", f"{wharf.url}/v2/val/manifests/t").status == 404


def test_artifact_manifest(wharf):
    cd = push_blob(wharf, "art", b"{}")
    ld = push_blob(wharf, "art", b"signature bytes")
    body = json.dumps({
        "schemaVersion": 2, "mediaType": images.OCI_MANIFEST,
        "artifactType": "application/vnd.example.sig",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": cd, "size": 2},
        "layers": [{"mediaType": "application/vnd.example.sig.v1", "digest": ld, "size": 15}],
    }).encode()
    assert put_manifest(wharf, "art", "sig", body).status == 201
    custom = json.dumps({
        "schemaVersion": 2, "mediaType": images.OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.example.config.v1+json", "digest": cd, "size": 2},
        "layers": [],
    }).encode()
    assert put_manifest(wharf, "art", "custom", custom).status == 201


def test_manifest_too_large_is_413(make_wharf):
    w = make_wharf(env={"WHARF_HTTP_LIMITS_MAX_MANIFEST_BYTES": "2048"}).start()
    big = json.dumps({"schemaVersion": 2, "pad": "x" * 4000}).encode()
    r = put_manifest(w, "big", "t", big)
    assert r.status == 413
    assert curl(w.url + "/healthz").stdout == b"ok\n"


def test_manifest_unknown_and_name_unknown(wharf):
    r = call("GET", f"{wharf.url}/v2/never/pushed/manifests/latest")
    assert r.status == 404 and r.code() == "NAME_UNKNOWN"
    simple_image(wharf, "known")
    r = call("GET", f"{wharf.url}/v2/known/manifests/nope")
    assert r.status == 404 and r.code() == "MANIFEST_UNKNOWN"
    r = call("GET", f"{wharf.url}/v2/known/manifests/{D0}")
    assert r.status == 404 and r.code() == "MANIFEST_UNKNOWN"


def test_manifest_delete_by_tag_and_digest(make_wharf):
    w = make_wharf(env={"REGISTRY_STORAGE_DELETE_ENABLED": "yes"}).start()
    md, body, _, _ = simple_image(w, "dm")
    assert put_manifest(w, "dm", "also", body).status == 201
    # Deleting a tag removes only the tag.
    assert call("DELETE", f"{w.url}/v2/dm/manifests/also").status == 202
    assert call("GET", f"{w.url}/v2/dm/manifests/also").status == 404
    assert call("GET", f"{w.url}/v2/dm/manifests/{md}").status == 200
    assert call("GET", f"{w.url}/v2/dm/manifests/v1").status == 200
    # Deleting by digest removes the manifest and its tags.
    assert call("DELETE", f"{w.url}/v2/dm/manifests/{md}").status == 202
    assert call("GET", f"{w.url}/v2/dm/manifests/{md}").status == 404
    assert call("GET", f"{w.url}/v2/dm/manifests/v1").status == 404
    assert call("DELETE", f"{w.url}/v2/dm/manifests/{md}").code() == "MANIFEST_UNKNOWN"


def test_manifest_delete_disabled(wharf):
    simple_image(wharf, "keep")
    r = call("DELETE", f"{wharf.url}/v2/keep/manifests/v1")
    assert r.status == 405 and r.code() == "UNSUPPORTED"


# ---------------------------------------------------------------- names

@pytest.mark.parametrize("name", [
    "UPPER/case", "a/../b", "%2e%2e/x", "a//b", "-lead", "trail-", "a..b", "a___b",
    "x" * 256, "a/b/" + "c" * 254,
])
def test_invalid_names(wharf, name):
    r = call("GET", f"{wharf.url}/v2/{name}/tags/list")
    assert r.status in (400, 404), r
    if r.status == 400:
        assert r.code() == "NAME_INVALID"
    else:  # the router already refuses empty components
        assert r.code() == "NOT_FOUND"


def test_nul_and_dotdot_never_reach_storage(wharf):
    s = wharf.connect()
    s.sendall(b"GET /v2/a%00b/blobs/" + D0.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    st, h, body = s.response()
    assert st == 400 and b"NAME_INVALID" in body
    s.sendall(b"GET /v2/../../etc/passwd/manifests/latest HTTP/1.1\r\nHost: x\r\n\r\n")
    st, h, body = s.response()
    assert st in (400, 404)


def test_invalid_tag(wharf):
    simple_image(wharf, "tagged")
    r = call("GET", f"{wharf.url}/v2/tagged/manifests/-bad")
    assert r.status == 400 and r.code() == "TAG_INVALID"
    r = call("PUT", f"{wharf.url}/v2/tagged/manifests/" + "t" * 129, b"{}")
    assert r.status == 400 and r.code() == "TAG_INVALID"


def test_valid_complex_names(wharf):
    for name in ["a", "a/b/c/d", "my-app", "my__app", "my.app", "a1/b2_c3/d-4.e"]:
        d = push_blob(wharf, name, name.encode())
        assert call("HEAD", f"{wharf.url}/v2/{name}/blobs/{d}").status == 200, name


# ---------------------------------------------------------------- listing

def test_tags_pagination(wharf):
    md, body, _, _ = simple_image(wharf, "pg", tag="b")
    for t in ["d", "a", "c", "e", "A", "0"]:
        assert put_manifest(wharf, "pg", t, body).status == 201
    full = call("GET", f"{wharf.url}/v2/pg/tags/list").json()
    assert full == {"name": "pg", "tags": ["0", "A", "a", "b", "c", "d", "e"]}
    r = call("GET", f"{wharf.url}/v2/pg/tags/list?n=3")
    assert r.json()["tags"] == ["0", "A", "a"]
    assert r.headers["link"] == '</v2/pg/tags/list?n=3&last=a>; rel="next"'
    r = call("GET", f"{wharf.url}/v2/pg/tags/list?n=3&last=a")
    assert r.json()["tags"] == ["b", "c", "d"]
    r = call("GET", f"{wharf.url}/v2/pg/tags/list?n=3&last=d")
    assert r.json()["tags"] == ["e"] and "link" not in r.headers
    assert call("GET", f"{wharf.url}/v2/pg/tags/list?n=0").json()["tags"] == []
    r = call("GET", f"{wharf.url}/v2/pg/tags/list?n=abc")
    assert r.status == 400 and r.code() == "PAGINATION_NUMBER_INVALID"
    r = call("GET", f"{wharf.url}/v2/unknown/tags/list")
    assert r.status == 404 and r.code() == "NAME_UNKNOWN"


def test_catalog_pagination(wharf):
    for repo in ["zeta", "alpha", "mid/one", "mid/two", "beta"]:
        push_blob(wharf, repo, repo.encode())
    assert call("GET", f"{wharf.url}/v2/_catalog").json() == {
        "repositories": ["alpha", "beta", "mid/one", "mid/two", "zeta"]}
    r = call("GET", f"{wharf.url}/v2/_catalog?n=2")
    assert r.json()["repositories"] == ["alpha", "beta"]
    assert r.headers["link"] == '</v2/_catalog?n=2&last=beta>; rel="next"'
    r = call("GET", f"{wharf.url}/v2/_catalog?n=2&last=beta")
    assert r.json()["repositories"] == ["mid/one", "mid/two"]
    assert "mid%2Ftwo" in r.headers["link"]
    r = call("GET", f"{wharf.url}/v2/_catalog?n=2&last=mid%2Ftwo")
    assert r.json()["repositories"] == ["zeta"] and "link" not in r.headers


# ---------------------------------------------------------------- referrers

def test_referrers(wharf):
    md, body, cd, _ = simple_image(wharf, "ref")
    subject = {"mediaType": images.OCI_MANIFEST, "digest": md, "size": len(body)}
    made = []
    for i, at in enumerate(["application/vnd.example.sig", "application/vnd.example.sbom"]):
        art = json.dumps({
            "schemaVersion": 2, "mediaType": images.OCI_MANIFEST, "artifactType": at,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": cd,
                       "size": len(json.dumps({}))},
            "layers": [], "subject": subject,
            "annotations": {"n": str(i)}}).encode()
        r = put_manifest(wharf, "ref", sha(art), art)
        assert r.status == 201, r
        assert r.headers["oci-subject"] == md
        made.append((sha(art), at))
    r = call("GET", f"{wharf.url}/v2/ref/referrers/{md}")
    assert r.status == 200 and r.headers["content-type"] == images.OCI_INDEX
    idx = r.json()
    assert idx["mediaType"] == images.OCI_INDEX and idx["schemaVersion"] == 2
    got = {(m["digest"], m["artifactType"]) for m in idx["manifests"]}
    assert got == set(made)
    assert all(m["annotations"]["n"] in ("0", "1") for m in idx["manifests"])
    r = call("GET", f"{wharf.url}/v2/ref/referrers/{md}?artifactType=application/vnd.example.sbom")
    assert r.headers["oci-filters-applied"] == "artifactType"
    assert [m["artifactType"] for m in r.json()["manifests"]] == ["application/vnd.example.sbom"]
    # No referrers: an empty index, still 200.
    r = call("GET", f"{wharf.url}/v2/ref/referrers/{D0}")
    assert r.status == 200 and r.json()["manifests"] == []
    r = call("GET", f"{wharf.url}/v2/ref/referrers/sha256:nope")
    assert r.status == 400 and r.code() == "DIGEST_INVALID"


# ---------------------------------------------------------------- big bodies

def rss_limit_applies():
    return os.environ.get("WHARF_SANITIZED") != "1"


def test_expect_100_continue(wharf, tmp_path):
    f = tmp_path / "d"
    data = os.urandom(200000)
    f.write_bytes(data)
    loc = call("POST", f"{wharf.url}/v2/ex/blobs/uploads/").headers["location"]
    r = subprocess.run(["curl", "-sS", "-v", "-X", "PATCH", "-H", "Expect: 100-continue",
                        "--data-binary", f"@{f}", "-o", "/dev/null", f"{wharf.url}{loc}"],
                       capture_output=True, text=True)
    assert "HTTP/1.1 100 Continue" in r.stderr
    assert "HTTP/1.1 202" in r.stderr


def test_1gib_chunked_upload_roundtrip_with_flat_memory(make_wharf, tmp_path):
    w = make_wharf().start()
    chunk = 64 << 20
    total = 1 << 30
    loc = call("POST", f"{w.url}/v2/big/blobs/uploads/").headers["location"]
    h = hashlib.sha256()
    seed = os.urandom(1 << 20)
    part = tmp_path / "part"
    off = 0
    while off < total:
        data = bytearray()
        for i in range(chunk >> 20):
            data += hashlib.sha256(seed + off.to_bytes(8, "big") + bytes([i])).digest() * 32768
        part.write_bytes(data)
        h.update(data)
        r = call("PATCH", f"{w.url}{loc}", headers={"Content-Range": f"{off}-{off + chunk - 1}"},
                 upload_file=str(part))
        assert r.status == 202, r
        off += chunk
        loc = r.headers["location"]
    part.unlink()
    d = "sha256:" + h.hexdigest()
    assert call("PUT", f"{w.url}{loc}?digest={d}").status == 201
    # Download and hash in a stream.
    p = subprocess.Popen(["curl", "-sS", f"{w.url}/v2/big/blobs/{d}"], stdout=subprocess.PIPE)
    g = hashlib.sha256()
    n = 0
    while True:
        b = p.stdout.read(1 << 20)
        if not b:
            break
        g.update(b)
        n += len(b)
    assert p.wait() == 0
    assert n == total and "sha256:" + g.hexdigest() == d
    peak_mb = w.hwm_kb() / 1024
    print(f"peak RSS during 1 GiB upload+download: {peak_mb:.1f} MB")
    if rss_limit_applies():
        assert peak_mb < 100, peak_mb
    os.unlink(os.path.join(w.root, "blobs", "sha256", d[7:9], d[7:]))


def test_2gib_streamed_body_keeps_memory_flat(make_wharf):
    w = make_wharf().start()
    loc = call("POST", f"{w.url}/v2/huge/blobs/uploads/").headers["location"]
    block = os.urandom(1 << 20)
    total = 2 << 30
    p = subprocess.Popen(["curl", "-sS", "-X", "PATCH", "-T", "-", "-o", "/dev/null",
                          "-w", "%{http_code}", f"{w.url}{loc}"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    samples = []

    def sample():
        while p.poll() is None:
            samples.append(w.rss_kb())
            time.sleep(0.2)
    t = threading.Thread(target=sample)
    t.start()
    for _ in range(total >> 20):
        p.stdin.write(block)
    p.stdin.close()
    out = p.stdout.read()
    p.wait()
    t.join()
    assert out == b"202"
    st = call("GET", f"{w.url}{loc}")
    assert st.headers["range"] == f"0-{total - 1}"
    peak = max(samples) / 1024
    print(f"RSS while streaming 2 GiB: max {peak:.1f} MB over {len(samples)} samples")
    if rss_limit_applies():
        assert peak < 100, peak
    assert call("DELETE", f"{w.url}{loc}").status == 204
