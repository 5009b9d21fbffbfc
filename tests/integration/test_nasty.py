"""Hostile requests, table-driven: each gets its exact status and OCI error
code, nothing is stored that should not be, and the server stays healthy."""
import json
import os
import socket

import pytest

from conftest import call, Conn
from images import sha256 as sha

Z = "sha256:" + "0" * 64


def raw(w, data, timeout=10):
    """Sends bytes as they are; returns (status, headers, body) of the answer."""
    c = Conn(socket.create_connection(("127.0.0.1", w.port), timeout=timeout))
    try:
        c.sendall(data)
        return c.response()
    finally:
        c.close()


def req(method, target, headers=(), body=b""):
    head = f"{method} {target} HTTP/1.1\r\nHost: x\r\n".encode("latin-1")
    for h in headers:
        head += (h if isinstance(h, bytes) else h.encode("latin-1")) + b"\r\n"
    return head + b"\r\n" + body


def code_of(body):
    try:
        return json.loads(body)["errors"][0]["code"]
    except (ValueError, KeyError, IndexError):
        return None


# (name, raw request, expected status, expected OCI code or None)
CASES = [
    # Path traversal in every form: nothing outside the API is reachable.
    ("dotdot", req("GET", "/v2/../../etc/passwd"), 404, "NOT_FOUND"),
    ("dotdot in name", req("GET", "/v2/a/../../b/tags/list"), 400, "NAME_INVALID"),
    ("encoded dotdot", req("GET", "/v2/%2e%2e/%2e%2e/etc/tags/list"), 400, "NAME_INVALID"),
    ("double encoded", req("GET", "/v2/%252e%252e/x/tags/list"), 400, "NAME_INVALID"),
    ("backslashes", req("GET", "/v2/a\\..\\..\\etc/tags/list"), 400, "NAME_INVALID"),
    ("dotdot digest", req("GET", "/v2/a/blobs/sha256:../../../../etc/passwd"), 404, "NOT_FOUND"),
    ("dotdot in digest", req("GET", "/v2/a/blobs/sha256:..%2f..%2fetc%2fpasswd"), 400, "DIGEST_INVALID"),
    ("dotdot upload id", req("PATCH", "/v2/a/blobs/uploads/..%2f..%2fmeta", ["Content-Length: 0"]),
     404, "BLOB_UPLOAD_UNKNOWN"),
    ("absolute uri", req("GET", "http://evil/v2/../../etc/passwd"), 404, "NOT_FOUND"),
    # NUL bytes.
    ("encoded NUL in name", req("GET", "/v2/a%00b/tags/list"), 400, "NAME_INVALID"),
    ("raw NUL in target", req("GET", "/v2/a\x00b/tags/list"), 400, "BAD_REQUEST"),
    ("NUL in header", req("GET", "/v2/", ["X-A: a\x00b"]), 400, "BAD_REQUEST"),
    # Header injection through names echoed in Location.
    ("CRLF in name", req("POST", "/v2/a%0d%0aSet-Cookie:%20x=1/blobs/uploads/", ["Content-Length: 0"]),
     400, "NAME_INVALID"),
    # (the line ends early, making it an HTTP/0.9 request line)
    ("raw CRLF in target", req("POST", "/v2/a\r\nSet-Cookie: x=1/blobs/uploads/"), 505, "UNSUPPORTED"),
    # Content-Length games.
    ("negative CL", req("PUT", "/v2/a/manifests/x", ["Content-Length: -1"]), 400, "BAD_REQUEST"),
    ("huge CL", req("PUT", "/v2/a/manifests/x", ["Content-Length: 99999999999999999999999"]), 400,
     "BAD_REQUEST"),
    ("CL over the manifest limit", req("PUT", "/v2/a/manifests/x", ["Content-Length: 1000000000000"]),
     413, "SIZE_INVALID"),
    ("duplicate CL", req("PUT", "/v2/a/manifests/x", ["Content-Length: 5", "Content-Length: 6"], b"hello!"),
     400, "BAD_REQUEST"),
    ("CL with junk", req("PUT", "/v2/a/manifests/x", ["Content-Length: 5x"]), 400, "BAD_REQUEST"),
    # Request smuggling: both framings at once.
    ("CL and TE", req("POST", f"/v2/a/blobs/uploads/?digest={Z}",
                      ["Content-Length: 4", "Transfer-Encoding: chunked"], b"0\r\n\r\n"), 400, "BAD_REQUEST"),
    ("TE not chunked", req("POST", "/v2/a/blobs/uploads/", ["Transfer-Encoding: gzip"]), 400, "BAD_REQUEST"),
    ("TE chunked twice", req("POST", "/v2/a/blobs/uploads/", ["Transfer-Encoding: chunked, chunked"]),
     400, "BAD_REQUEST"),
    # Invalid chunk sizes.
    ("chunk size not hex", req("POST", f"/v2/a/blobs/uploads/?digest={Z}", ["Transfer-Encoding: chunked"], b"zz\r\nab\r\n0\r\n\r\n"),
     400, "BAD_REQUEST"),
    ("chunk size overflow", req("POST", f"/v2/a/blobs/uploads/?digest={Z}", ["Transfer-Encoding: chunked"],
                                b"fffffffffffffffffffff\r\nab\r\n"), 400, "BAD_REQUEST"),
    ("negative chunk size", req("POST", f"/v2/a/blobs/uploads/?digest={Z}", ["Transfer-Encoding: chunked"], b"-1\r\nab\r\n"),
     400, "BAD_REQUEST"),
    # Bad request lines and versions.
    ("no version (HTTP/0.9)", b"GET /v2/\r\n\r\n", 505, "UNSUPPORTED"),
    ("HTTP/2.0 line", b"GET /v2/ HTTP/2.0\r\nHost: x\r\n\r\n", 505, "UNSUPPORTED"),
    ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "BAD_REQUEST"),
    ("unknown method", req("BREW", "/v2/"), 400, "BAD_REQUEST"),
    ("unsupported method", req("PROPFIND", "/v2/"), 405, "UNSUPPORTED"),
    ("space in target", b"GET /v2/a b/tags/list HTTP/1.1\r\nHost: x\r\n\r\n", 400, "BAD_REQUEST"),
    ("over-long target", req("GET", "/v2/" + "a" * 70000 + "/tags/list"), 414, "URI_TOO_LONG"),
    ("too many headers", req("GET", "/v2/", [f"X-{i}: y" for i in range(200)]), 431, "HEADERS_TOO_LARGE"),
    ("bad digest algorithm", req("GET", "/v2/a/blobs/md5:abcd"), 400, "DIGEST_INVALID"),
    ("upper-case hex digest", req("GET", "/v2/a/blobs/sha256:" + "A" * 64), 400, "DIGEST_INVALID"),
    ("bad tag", req("GET", "/v2/a/manifests/" + "t" * 200), 400, "TAG_INVALID"),
    ("bad pagination", req("GET", "/v2/_catalog?n=-5"), 400, "PAGINATION_NUMBER_INVALID"),
    ("bad range", req("GET", f"/v2/a/blobs/{Z}", ["Range: bytes=5-1"]), 404, "BLOB_UNKNOWN"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from conftest import Wharf
    w = Wharf(tmp_path_factory.mktemp("nasty"), env={"REGISTRY_STORAGE_DELETE_ENABLED": "true"})
    w.start()
    yield w
    w.stop()
    assert "AddressSanitizer" not in w.stderr() and "runtime error:" not in w.stderr(), w.stderr()


@pytest.mark.parametrize("name,data,status,code", CASES, ids=[c[0] for c in CASES])
def test_nasty_request(server, name, data, status, code):
    got, headers, body = raw(server, data)
    assert (got, code_of(body)) == (status, code), (name, body[:300])
    assert "set-cookie" not in headers
    if status >= 400:
        assert headers["content-type"].startswith("application/json")
    assert call("GET", f"{server.url}/v2/").status == 200  # still healthy
    assert call("GET", f"{server.url}/v2/_catalog").json() == {"repositories": []}  # nothing stored


def test_digest_that_lies(server):
    r = call("POST", f"{server.url}/v2/lie/blobs/uploads/?digest={sha(b'something else')}", b"payload")
    assert r.status == 400 and code_of(r.body) == "DIGEST_INVALID"
    assert call("HEAD", f"{server.url}/v2/lie/blobs/{sha(b'payload')}").status == 404
    assert call("HEAD", f"{server.url}/v2/lie/blobs/{sha(b'something else')}").status == 404


def test_manifest_with_100k_references(server):
    cfg = b"{}"
    layer = b"l"
    for d, data in ((sha(cfg), cfg), (sha(layer), layer)):
        assert call("POST", f"{server.url}/v2/many/blobs/uploads/?digest={d}", data).status == 201
    desc = {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(layer), "size": 1}
    m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(cfg), "size": 2},
         "layers": [desc] * 100000}
    body = json.dumps(m).encode()
    assert len(body) > 4 << 20
    r = call("PUT", f"{server.url}/v2/many/manifests/v1", body,
             {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert r.status == 413 and code_of(r.body) == "SIZE_INVALID"
    # Under the size limit, 25k references are checked and accepted in one go.
    m["layers"] = [desc] * 25000
    body = json.dumps(m).encode()
    r = call("PUT", f"{server.url}/v2/many/manifests/v1", body,
             {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert r.status == 201, r.body
    assert call("GET", f"{server.url}/v2/many/manifests/v1",
                headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}).body == body


def test_index_referencing_unknown_and_itself(server):
    # Content addressing makes a true cycle impossible to build; the closest
    # thing is an index whose children do not exist.
    idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
           "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": Z, "size": 10}]}
    body = json.dumps(idx).encode()
    r = call("PUT", f"{server.url}/v2/cyc/manifests/{sha(body)}", body,
             {"Content-Type": "application/vnd.oci.image.index.v1+json"})
    assert r.status == 400 and code_of(r.body) == "MANIFEST_BLOB_UNKNOWN"


def test_json_nested_10k_deep(server):
    body = b'{"schemaVersion":2,"x":' + b"[" * 10000 + b"]" * 10000 + b"}"
    r = call("PUT", f"{server.url}/v2/deep/manifests/v1", body,
             {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert r.status == 400 and code_of(r.body) == "MANIFEST_INVALID"
    body = b"[" * 100000
    r = call("PUT", f"{server.url}/v2/deep/manifests/v1", body,
             {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert r.status == 400 and code_of(r.body) == "MANIFEST_INVALID"


def test_one_gigabyte_header_line(server):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.sendall(b"GET /v2/ HTTP/1.1\r\nX-Big: ")
    chunk = b"a" * (1 << 20)
    sent = 0
    try:
        while sent < 1 << 30:  # the server answers and closes long before
            s.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert sent < 64 << 20, "the server kept reading a huge header"
    c = Conn(s)
    status, headers, body = c.response()
    assert status == 431 and code_of(body) == "HEADERS_TOO_LARGE"
    s.close()
    assert call("GET", f"{server.url}/v2/").status == 200


@pytest.mark.parametrize("method,target", [
    ("POST", "/v2/capped/blobs/uploads/?digest=" + Z),   # monolithic
    ("PATCH", None),                                        # a chunk of a session
])
def test_announced_blob_over_the_cap_is_refused_before_its_body(make_wharf, method, target):
    # The answer comes from the headers alone: the client has not sent a byte
    # of the terabyte it announced, and the socket is still open when it reads.
    w = make_wharf(env={"WHARF_HTTP_LIMITS_MAX_BLOB_BYTES": str(1 << 20)}).start()
    if target is None:
        r = call("POST", f"{w.url}/v2/capped/blobs/uploads/")
        assert r.status == 202
        target = r.headers["location"]
    status, _, body = raw(w, req(method, target, ["Content-Length: 1099511627776",
                                                  "Content-Type: application/octet-stream"]),
                          timeout=5)
    assert status == 413 and code_of(body) == "SIZE_INVALID", body
    assert os.listdir(os.path.join(w.env["WHARF_STORAGE_ROOT"], "tmp")) == []
    if method == "PATCH":
        assert call("GET", w.url + target).headers["range"] == "0-0"  # still empty, resumable
