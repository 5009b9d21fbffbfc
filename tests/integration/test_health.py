"""/healthz and the storage probe behind it (registry/storage_health.h),
against a real read-only filesystem."""
import json
import os
import subprocess
import time

import pytest

from conftest import call
from test_api import push_blob
from test_fsck import metric


def healthz_until(w, status, seconds=15):
    deadline = time.time() + seconds
    while True:
        r = call("GET", w.url + "/healthz")
        if r.status == status or time.time() > deadline:
            return r
        time.sleep(0.2)


def test_healthz_is_503_while_the_storage_takes_no_writes(make_wharf):
    w = make_wharf(env={"REGISTRY_HEALTH_STORAGEDRIVER_INTERVAL": "1s",
                        "REGISTRY_HEALTH_STORAGEDRIVER_THRESHOLD": "2"}).start()
    data = b"kept" * 1000
    digest = push_blob(w, "team/app", data)
    assert metric(call("GET", w.url + "/metrics").body.decode(), "wharf_storage_healthy") == 1

    # A read-only filesystem where the store makes its files, as after an
    # ext4 error with errors=remount-ro.
    tmp = os.path.join(w.root, "tmp")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", tmp], capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: " + r.stderr.decode().strip())
    try:
        r = healthz_until(w, 503)
        assert r.status == 503, r
        err = json.loads(r.body)["errors"][0]
        assert err["code"] == "UNAVAILABLE" and "Read-only file system" in err["message"], err
        m = call("GET", w.url + "/metrics").body.decode()
        assert metric(m, "wharf_storage_healthy") == 0
        # Not before `threshold` probes failed in a row.
        assert metric(m, "wharf_storage_health_probe_failures_total") >= 2
        # The process itself is fine: liveness probes must not restart it.
        r = call("GET", w.url + "/livez")
        assert r.status == 200 and r.body == b"ok\n", r
        # What is stored is still served.
        r = call("GET", f"{w.url}/v2/team/app/blobs/{digest}")
        assert r.status == 200 and r.body == data
        assert "storage is unhealthy" in w.stderr()
    finally:
        subprocess.run(["umount", tmp], check=True)

    # One good probe, and it is healthy again.
    r = healthz_until(w, 200)
    assert r.status == 200 and r.body == b"ok\n", r
    assert "storage is healthy again" in w.stderr()
    assert metric(call("GET", w.url + "/metrics").body.decode(), "wharf_storage_healthy") == 1
    assert w.stop() == 0
