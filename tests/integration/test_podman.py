"""The real podman (Debian's podman 4.3, daemonless) against Wharf: as a
docker.io mirror in registries.conf, and as a private registry over TLS with
htpasswd (login, push, remove, pull, run, logout).

Every podman command runs in a private mount namespace whose /etc/hosts maps
the Docker Hub names (and registry-server) to 127.0.0.1 and whose
/etc/containers is a temp directory, with its own storage and auth file, so
nothing leaves loopback and the machine's own setup is never touched (see
../shared/clients.md)."""
import os
import shlex
import shutil
import subprocess
import tempfile

import pytest

from test_docker import HUB_NAMES, busybox_archive
from test_proxy import proxy_env
from test_tls_auth import PASSWORD, USER, classic
from upstream import Registry

PODMAN = shutil.which("podman")
pytestmark = pytest.mark.skipif(PODMAN is None, reason="podman is not installed (deploy/install-deps.sh)")

SHIPPED_CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "clients",
                            "registries.conf")
POLICY = '{"default": [{"type": "insecureAcceptAnything"}]}\n'


class Podman:
    def __init__(self, mirror=None):
        # A short path: podman refuses a run root longer than 50 characters.
        self.tmp = tempfile.mkdtemp(prefix="wp", dir="/tmp")
        self.etc = os.path.join(self.tmp, "etc-containers")
        os.makedirs(self.etc)
        conf = 'unqualified-search-registries = ["docker.io"]\n'
        if mirror:
            # The file the README and deploy/clients/ give users, pointed at
            # this Wharf (plain HTTP here).
            with open(SHIPPED_CONF) as f:
                conf = f.read()
            assert 'location = "registry-server:5000"' in conf and "# insecure = true" in conf
            conf = conf.replace("registry-server:5000", mirror).replace("# insecure = true", "insecure = true")
        with open(os.path.join(self.etc, "registries.conf"), "w") as f:
            f.write(conf)
        with open(os.path.join(self.etc, "policy.json"), "w") as f:
            f.write(POLICY)
        self.hosts = os.path.join(self.tmp, "hosts")
        with open(self.hosts, "w") as f:
            f.write(f"127.0.0.1 localhost registry-server {HUB_NAMES}\n::1 localhost\n")
        self.base = [PODMAN, "--root", os.path.join(self.tmp, "root"), "--runroot", os.path.join(self.tmp, "run"),
                     "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
        with open(os.path.join(self.tmp, "auth.json"), "w") as f:
            f.write('{"auths": {}}\n')  # podman wants the file it is pointed at to exist
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.tmp,
                    "REGISTRY_AUTH_FILE": os.path.join(self.tmp, "auth.json"),
                    "TMPDIR": self.tmp}

    def podman(self, *args, check=True, input=None):
        cmd = (f"mount --bind {self.hosts} /etc/hosts && mount --bind {self.etc} /etc/containers && "
               f"exec {shlex.join(self.base + list(args))}")
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", cmd],
                           env=self.env, capture_output=True, timeout=180, input=input)
        if check and r.returncode != 0:
            raise AssertionError(f"podman {args}: {r.stderr.decode()}")
        return r

    def run_image(self, image, *extra):
        # The runtime settings clients.md gives for this machine (crun fails here).
        return self.podman("run", "--rm", "--runtime", "runc", "--network", "none",
                           "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", *extra, image)

    def load_busybox(self):
        out = self.podman("load", input=busybox_archive()).stdout.decode()
        # "Loaded image: <name>" (podman adds a registry to the archive's tag)
        return out.strip().splitlines()[-1].split(": ", 1)[1]

    def cleanup(self):
        # vfs layers may hold files podman made read-only; the root owns them all.
        subprocess.run(["rm", "-rf", self.tmp], capture_output=True)


def test_podman_mirror_pulls_through_wharf(make_wharf, tmp_path):
    """registries.conf with Wharf as the docker.io mirror, which proxies a
    local docker-registry holding library/alpine (a busybox image under that
    name). Docker Hub names resolve to 127.0.0.1, so the pull can only succeed
    through the mirror."""
    up = Registry(str(tmp_path / "up")).start()
    seeder = Podman()
    try:
        loaded = seeder.load_busybox()
        seeder.podman("push", "--tls-verify=false", loaded, f"127.0.0.1:{up.port}/library/alpine:latest")
        w = make_wharf(env=proxy_env(up.url)).start()
        p = Podman(mirror=f"127.0.0.1:{w.port}")
        try:
            p.podman("pull", "docker.io/library/alpine:latest")
            run = p.run_image("docker.io/library/alpine:latest")
            assert run.stdout.strip() == b"hello from wharf"
            log = w.stdout()
            assert "GET /v2/library/alpine/manifests/latest" in log
            assert "/v2/library/alpine/blobs/sha256:" in log
            # A second client pulls from Wharf's disk: the upstream is gone.
            up.stop()
            again = Podman(mirror=f"127.0.0.1:{w.port}")
            try:
                again.podman("pull", "docker.io/library/alpine:latest")
                assert again.run_image("docker.io/library/alpine:latest").stdout.strip() == b"hello from wharf"
            finally:
                again.cleanup()
        finally:
            p.cleanup()
    finally:
        seeder.cleanup()
        up.stop()


def test_podman_login_push_pull_run_over_tls(make_wharf, tmp_path):
    w = classic(make_wharf, tmp_path)
    p = Podman()
    try:
        host = f"registry-server:{w.port}"
        image = f"{host}/team/busybox:1"
        tls = ["--cert-dir", w.certdir]
        loaded = p.load_busybox()
        p.podman("tag", loaded, image)
        # Not logged in: the push is refused.
        r = p.podman("push", *tls, image, check=False)
        assert r.returncode != 0 and b"unauthorized" in r.stderr.lower()
        bad = p.podman("login", *tls, "-u", USER, "--password-stdin", host, input=b"wrong", check=False)
        assert bad.returncode != 0
        r = p.podman("login", *tls, "-u", USER, "--password-stdin", host, input=PASSWORD.encode())
        assert b"Login Succeeded" in r.stdout
        p.podman("push", *tls, image)
        p.podman("rmi", image, loaded)
        p.podman("pull", *tls, image)
        assert p.run_image(image).stdout.strip() == b"hello from wharf"
        p.podman("logout", host)
        p.podman("rmi", image)
        r = p.podman("pull", *tls, image, check=False)
        assert r.returncode != 0
    finally:
        p.cleanup()
