"""wharf-bench as a registry client: the login flows (Basic and Bearer token)
against the classic TLS + htpasswd setup, with the seeded content verified on
the way back. The bench tool is built in the release configuration only."""
import json
import os
import subprocess

import pytest

from conftest import WHARF_BENCH as BENCH
from test_tls_auth import PASSWORD, USER, classic

pytestmark = pytest.mark.skipif(not os.path.exists(BENCH), reason="wharf-bench not built here")


def bench(*args):
    return subprocess.run([BENCH, *args, "--json", "--quiet"], capture_output=True, text=True, timeout=120)


def seed_and_pull(w, creds):
    r = bench("seed", w.https, "--tls-ca", w.crt, *creds, "--images", "2", "--layers", "2",
              "--size", "300000", "--prefix", "team/b", "--seed", "3")
    assert r.returncode == 0, r.stderr
    seeded = json.loads(r.stdout)
    assert [i["image"] for i in seeded] == ["team/b0:latest", "team/b1:latest"]
    r = bench("pull", w.https, "team/b1:latest", "--tls-ca", w.crt, *creds, "-n", "3", "--verify")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["errors"] == {}
    # ping, HEAD, manifest, config and two layers, three times over
    assert out["requests"] == 3 * 6
    assert out["verified_bytes"] >= 3 * 2 * 300000
    return out


def test_bench_bearer_token_flow(make_wharf, tmp_path):
    w = classic(make_wharf, tmp_path, extra={"WHARF_AUTH_TOKEN_ENABLED": "true"})
    seed_and_pull(w, ["--user", f"{USER}:{PASSWORD}"])
    # The token it obtained covers the push scopes of every upload repository.
    r = bench("push", w.https, "--tls-ca", w.crt, "--user", f"{USER}:{PASSWORD}", "-n", "3", "-c", "2",
              "--size", "1000000", "--chunked")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["requests"] == 3
    # Wrong password: the token service refuses, and the tool says so.
    r = bench("pull", w.https, "team/b1:latest", "--tls-ca", w.crt, "--user", f"{USER}:nope", "-n", "1")
    assert r.returncode == 1 and "token request answered 401" in r.stderr


def test_bench_basic_flow(make_wharf, tmp_path):
    w = classic(make_wharf, tmp_path)
    seed_and_pull(w, ["--user", f"{USER}:{PASSWORD}"])
    r = bench("pull", w.https, "team/b1:latest", "--tls-ca", w.crt, "-n", "1")
    assert r.returncode == 1 and "pass --user" in r.stderr
    # A blob URL needs no scope juggling: a raw GET load with Basic credentials.
    r = bench("blob", f"{w.https}/v2/", "--tls-ca", w.crt, "--user", f"{USER}:{PASSWORD}", "-n", "50", "-c", "4")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["requests"] == 50
