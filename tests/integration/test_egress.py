"""Upstreams reached through a forward proxy, as behind a corporate firewall:
Debian's tinyproxy on a loopback port between Wharf and Debian's
docker-registry, configured with HTTP_PROXY / HTTPS_PROXY / NO_PROXY."""
import json
import os
import re
import socket
import subprocess
import time

import pytest

import tls_setup
from conftest import call, free_port
from test_proxy import proxy_env, pull, seed, upstream  # noqa: F401 (fixture)

TINYPROXY = "/usr/bin/tinyproxy"
USER, PASSWORD = "bob", "s3cret"


class Tinyproxy:
    """tinyproxy in the foreground, asking for Basic credentials; its log
    (level Connect) has one line per request it was asked to relay."""

    def __init__(self, tmp):
        os.makedirs(tmp, exist_ok=True)
        self.port = free_port()
        self.log_path = os.path.join(tmp, "tinyproxy.log")
        self.conf = os.path.join(tmp, "tinyproxy.conf")
        with open(self.conf, "w") as f:
            f.write(f"Port {self.port}\nListen 127.0.0.1\nTimeout 60\nLogFile \"{self.log_path}\"\n"
                    f"LogLevel Connect\nMaxClients 64\nAllow 127.0.0.1\nBasicAuth {USER} {PASSWORD}\n")
        self.out = open(os.path.join(tmp, "tinyproxy.out"), "w")
        self.proc = subprocess.Popen([TINYPROXY, "-d", "-c", self.conf], stdout=self.out,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("tinyproxy did not start")
                time.sleep(0.05)

    def url(self, password=PASSWORD):
        """The proxy URL, with credentials unless `password` is None."""
        auth = f"{USER}:{password}@" if password is not None else ""
        return f"http://{auth}127.0.0.1:{self.port}"

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def requests(self):
        """The request lines tinyproxy was asked to relay."""
        return re.findall(r"Request \(file descriptor \d+\): (.*)", self.log())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.out.close()


@pytest.fixture
def tinyproxy(tmp_path):
    p = Tinyproxy(str(tmp_path / "tinyproxy"))
    yield p
    p.stop()


def tls_upstream(upstream, tmp_path):  # noqa: F811
    crt, key = tls_setup.self_signed(str(tmp_path), name="upstream")
    return upstream(tls=(crt, key)), crt


def test_plain_upstream_through_the_proxy(make_wharf, upstream, tinyproxy, tmp_path):  # noqa: F811
    up = upstream()
    _, blobs = seed(up, tmp_path)
    w = make_wharf(env=proxy_env(up.url, HTTP_PROXY=tinyproxy.url())).start()
    assert pull(w, tmp_path, "library/app:v1") == set(blobs)
    asked = tinyproxy.requests()
    # Absolute-form requests, each blob once; the upstream saw them too.
    for d in blobs:
        assert f"GET http://127.0.0.1:{up.port}/v2/library/app/blobs/{d} HTTP/1.1" in asked, asked
        assert up.requests("GET", "/blobs/" + d) == 1
    assert not any(r.startswith("CONNECT") for r in asked)


def test_tls_upstream_through_a_connect_tunnel(make_wharf, upstream, tinyproxy, tmp_path):  # noqa: F811
    up, ca = tls_upstream(upstream, tmp_path)
    _, blobs = seed(up, tmp_path)
    regs = {"docker.io": {"mirrors": [up.url], "ca_file": ca}}
    w = make_wharf(env=proxy_env(up.url, WHARF_PROXY_REGISTRIES=json.dumps(regs),
                                 https_proxy=tinyproxy.url())).start()
    assert pull(w, tmp_path, "library/app:v1") == set(blobs)
    asked = tinyproxy.requests()
    # TLS end to end: the proxy only ever saw tunnels to the upstream.
    assert asked and all(r == f"CONNECT 127.0.0.1:{up.port} HTTP/1.1" for r in asked), asked
    # Once cached, nothing goes upstream again.
    before = len(asked)
    assert pull(w, tmp_path, "library/app:v1", out_name="again") == set(blobs)
    assert len(tinyproxy.requests()) == before


def test_no_proxy_goes_direct(make_wharf, upstream, tinyproxy, tmp_path):  # noqa: F811
    up = upstream()
    _, blobs = seed(up, tmp_path)
    w = make_wharf(env=proxy_env(up.url, HTTP_PROXY=tinyproxy.url(),
                                 NO_PROXY="localhost, 127.0.0.0/8")).start()
    assert pull(w, tmp_path, "library/app:v1") == set(blobs)
    assert tinyproxy.requests() == []


# tinyproxy answers 407 without credentials, 401 with wrong ones.
@pytest.mark.parametrize("scheme,password", [("http", None), ("https", None), ("https", "nope")])
def test_proxy_refusing_credentials_is_reported(make_wharf, upstream, tinyproxy, tmp_path,  # noqa: F811
                                                scheme, password):
    if scheme == "https":
        up, ca = tls_upstream(upstream, tmp_path)
        regs = {"docker.io": {"mirrors": [up.url], "ca_file": ca}}
        env = proxy_env(up.url, WHARF_PROXY_REGISTRIES=json.dumps(regs), HTTPS_PROXY=tinyproxy.url(password))
    else:
        up = upstream()
        env = proxy_env(up.url, HTTP_PROXY=tinyproxy.url(password))
    seed(up, tmp_path)
    w = make_wharf(env=env).start()
    r = call("GET", f"{w.url}/v2/library/app/manifests/v1")
    # The client learns why, in the OCI error format.
    assert r.status == 502 and r.code() == "UNAVAILABLE", r
    assert "proxy credentials missing or wrong" in r.json()["errors"][0]["message"], r
    assert up.requests("GET", "/manifests/v1") == 0  # never got past the proxy
    assert "proxy credentials missing or wrong" in w.stderr(), w.stderr()
    assert "nope" not in w.stderr()  # a password never reaches the log
