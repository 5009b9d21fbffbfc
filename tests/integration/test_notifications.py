"""notifications.endpoints: registry events POSTed to webhooks in the
reference registry's format, by real clients' pushes and pulls (skopeo),
to a receiver on loopback (Python's own HTTP server, as a CI system's hook
would be)."""
import base64
import json
import re
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import images
import tls_setup
from conftest import call
from test_api import push_blob
from test_skopeo import TLS, check_dir_blobs, skopeo
from upstream import Registry

EVENTS_TYPE = "application/vnd.docker.distribution.events.v1+json"


class Receiver:
    """A webhook endpoint that records every POST; the first `fail` of them
    are answered 500, as an endpoint that is down; each answer comes after
    `delay` seconds. With `tls` (certificate, key) it is served over HTTPS."""

    def __init__(self, fail=0, delay=0, tls=None):
        self.posts, self.fail, self.lock = [], fail, threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    failing = outer.fail > 0
                    outer.fail -= 1
                    if not failing:
                        outer.posts.append((dict(self.headers), json.loads(body)))
                time.sleep(delay)
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.server.server_address[1]}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self):
        with self.lock:
            return [e for _, body in self.posts for e in body["events"]]

    def wait_for(self, pred, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if pred(self.events()):
                return self.events()
            time.sleep(0.05)
        raise AssertionError(f"events never matched: {json.dumps(self.events(), indent=1)}")


@pytest.fixture
def receivers():
    made = []

    def make(**kw):
        made.append(Receiver(**kw))
        return made[-1]

    yield make
    for r in made:
        r.server.shutdown()


def test_push_pull_mount_delete_reach_the_webhooks(make_wharf, receivers, tmp_path):
    ci = receivers(fail=2)  # down at first: the events wait, in order
    audit = receivers()
    pw = str(tmp_path / "htpasswd")
    tls_setup.htpasswd(pw, "alice", "s3cret")
    endpoints = [{"name": "ci", "url": ci.url, "headers": {"Authorization": ["Bearer t0ken"]},
                  "timeout": "2s", "threshold": 1, "backoff": "100ms"},
                 {"name": "audit", "url": audit.url, "ignore": {"actions": ["pull"]}},
                 {"name": "off", "url": "http://127.0.0.1:1/", "disabled": True}]
    w = make_wharf(env={"WHARF_NOTIFICATIONS_ENDPOINTS": json.dumps(endpoints),
                        "REGISTRY_AUTH": "htpasswd", "REGISTRY_AUTH_HTPASSWD_PATH": pw,
                        "REGISTRY_STORAGE_DELETE_ENABLED": "true"}).start()
    src = str(tmp_path / "src")
    md, blobs = images.single(src, layer_sizes=(3000, 40000))
    skopeo("copy", *TLS, "--dest-creds", "alice:s3cret", f"oci:{src}:v1",
           f"docker://127.0.0.1:{w.port}/team/app:v1")
    pushed = ci.wait_for(lambda ev: any(e["action"] == "push" and e["target"].get("tag") for e in ev))
    assert [e["action"] for e in pushed] == ["push"] * (len(blobs) + 1)
    blob_events, manifest = pushed[:-1], pushed[-1]
    assert sorted(e["target"]["digest"] for e in blob_events) == sorted(blobs)
    for e in blob_events:
        t = e["target"]
        assert t["mediaType"] == "application/octet-stream" and t["repository"] == "team/app"
        assert t["size"] == t["length"] > 0 and t["url"] == f"{w.url}/v2/team/app/blobs/{t['digest']}"
    t = manifest["target"]
    assert t["digest"] == md and t["tag"] == "v1" and t["repository"] == "team/app"
    assert t["url"] == f"{w.url}/v2/team/app/manifests/{md}"
    assert t["mediaType"].startswith("application/vnd.oci.image.manifest.v1+json") and t["size"] > 0
    assert manifest["actor"] == {"name": "alice"}
    assert manifest["request"]["method"] == "PUT" and manifest["request"]["addr"] == "127.0.0.1"
    assert manifest["request"]["host"] == f"127.0.0.1:{w.port}" and manifest["request"]["useragent"]
    assert re.fullmatch(r"[0-9a-f]{20}", manifest["request"]["id"])
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", manifest["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", manifest["timestamp"])
    assert len({e["source"]["instanceID"] for e in pushed}) == 1
    assert len({e["id"] for e in pushed}) == len(pushed)

    out = str(tmp_path / "out")
    skopeo("copy", *TLS, "--src-creds", "alice:s3cret", f"docker://127.0.0.1:{w.port}/team/app:v1", f"dir:{out}")
    assert check_dir_blobs(out) == set(blobs)
    pulled = ci.wait_for(lambda ev: len([e for e in ev if e["action"] == "pull"]) >= len(blobs) + 1)
    pulls = [e for e in pulled if e["action"] == "pull"]
    assert {e["target"]["digest"] for e in pulls} == set(blobs) | {md}
    assert any(e["target"].get("tag") == "v1" and e["request"]["method"] == "GET" for e in pulls)

    auth = {"Authorization": "Basic " + base64.b64encode(b"alice:s3cret").decode()}
    r = call("POST", f"{w.url}/v2/team/copy/blobs/uploads/?mount={blobs[-1]}&from=team/app", headers=auth)
    assert r.status == 201
    assert call("DELETE", f"{w.url}/v2/team/app/manifests/{md}", headers=auth).status == 202
    last = ci.wait_for(lambda ev: ev[-1]["action"] == "delete")
    mount = last[-2]
    assert mount["action"] == "mount" and mount["target"]["repository"] == "team/copy"
    assert mount["target"]["fromRepository"] == "team/app" and mount["target"]["digest"] == blobs[-1]
    assert last[-1]["target"] == {"repository": "team/app", "digest": md,
                                  "url": f"{w.url}/v2/team/app/manifests/{md}"}

    # Every POST carried the endpoint's headers and the events' media type;
    # the two refused ones were retried, so nothing is missing or repeated.
    for headers, _ in ci.posts:
        assert headers["Content-Type"] == EVENTS_TYPE and headers["Authorization"] == "Bearer t0ken"
    assert len(ci.events()) == len(blobs) + 1 + len(pulls) + 2
    # The audit endpoint ignores pulls and has everything else.
    got = audit.wait_for(lambda ev: len(ev) == len(blobs) + 3)
    assert [e["action"] for e in got] == ["push"] * (len(blobs) + 1) + ["mount", "delete"]
    m = call("GET", f"{w.url}/metrics").body.decode()
    assert re.search(r'^wharf_notifications_failures_total\{endpoint="ci"\} 2$', m, re.M), m
    assert re.search(r'^wharf_notifications_pending\{endpoint="ci"\} 0$', m, re.M)
    assert f'wharf_notifications_sent_total{{endpoint="ci"}} {len(ci.events())}\n' in m
    assert 'endpoint="off"' not in m
    assert "notifications: ci: answered 500; retrying" in w.stderr()


def test_pulls_through_the_mirror_are_events_too(make_wharf, receivers, tmp_path):
    """A mirror's pulls name the repository the client asked for, whether
    the content came from the upstream or from the cache; the cache's own
    repositories never show."""
    hook = receivers()
    up = Registry(str(tmp_path / "up")).start()
    try:
        src = str(tmp_path / "src")
        md, blobs = images.single(src, layer_sizes=(5000,))
        skopeo("copy", *TLS, f"oci:{src}:v1", f"docker://127.0.0.1:{up.port}/library/app:v1")
        w = make_wharf(env={"WHARF_PROXY_ENABLED": "true",
                            "WHARF_PROXY_REGISTRIES": json.dumps({"docker.io": {"mirrors": [up.url]}}),
                            "WHARF_NOTIFICATIONS_ENDPOINTS": json.dumps([{"name": "hook", "url": hook.url}])}).start()
        for n in ("cold", "warm"):
            skopeo("copy", *TLS, f"docker://127.0.0.1:{w.port}/library/app:v1", f"dir:{tmp_path / n}")
        want = 2 * (len(blobs) + 1)
        got = hook.wait_for(lambda ev: len(ev) >= want)
        assert len(got) == want and {e["action"] for e in got} == {"pull"}
        assert {e["target"]["repository"] for e in got} == {"library/app"}
        assert [e["target"]["digest"] for e in got].count(md) == 2
    finally:
        up.stop()


def test_events_queued_at_a_stop_are_still_delivered(make_wharf, receivers):
    """A push right before a restart still reaches the webhook: the first
    event's POST takes 0.3 s, the other pushes queue behind it, and the stop
    comes at once. An endpoint that never answers holds the stop up for 5 s
    at most, whatever its own timeout."""
    slow, stuck = receivers(delay=0.3), receivers(delay=60)
    endpoints = [{"name": "slow", "url": slow.url}, {"name": "stuck", "url": stuck.url, "timeout": "120s"}]
    w = make_wharf(env={"WHARF_NOTIFICATIONS_ENDPOINTS": json.dumps(endpoints)}).start()
    digests = [push_blob(w, "team/app", b"blob %d" % i * 100) for i in range(5)]
    began = time.monotonic()
    assert w.stop() == 0
    assert time.monotonic() - began < 8
    assert [e["target"]["digest"] for e in slow.events()] == digests
    log = w.stderr()
    assert "events for stuck were not delivered" in log and "for slow were not" not in log, log


def test_a_self_signed_webhook_with_its_ca_file(make_wharf, receivers, tmp_path):
    """An internal receiver on HTTPS with its own certificate: trusted through
    the endpoint's ca_file, and only through it."""
    crt, key = tls_setup.self_signed(str(tmp_path))
    trusting, plain = receivers(tls=(crt, key)), receivers(tls=(crt, key))
    endpoints = [{"name": "trusting", "url": trusting.url, "ca_file": crt},
                 {"name": "plain", "url": plain.url, "threshold": 1, "backoff": "100ms"}]
    w = make_wharf(env={"WHARF_NOTIFICATIONS_ENDPOINTS": json.dumps(endpoints)}).start()
    d = push_blob(w, "team/app", b"blob for the hooks")
    assert [e["target"]["digest"] for e in trusting.wait_for(lambda ev: len(ev) == 1)] == [d]
    deadline = time.time() + 10
    while 'wharf_notifications_failures_total{endpoint="plain"} 0' in call("GET", f"{w.url}/metrics").body.decode():
        assert time.time() < deadline, "the untrusted endpoint never failed"
        time.sleep(0.05)
    assert plain.events() == []
    bad = make_wharf(env={"WHARF_NOTIFICATIONS_ENDPOINTS": json.dumps(
        [{"name": "x", "url": trusting.url, "ca_file": str(tmp_path / "missing.pem")}])})
    r = __import__("subprocess").run([bad.args[0], "check-config"], env=bad.env, capture_output=True, text=True)
    assert r.returncode == 2 and "notifications.endpoints.x.ca_file" in r.stderr, r.stderr
