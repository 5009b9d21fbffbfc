"""The real Docker engine (Debian's docker.io, dockerd 20.10) against Wharf
over TLS with htpasswd: login, push, remove, pull, run, logout.

dockerd runs in a private mount namespace whose /etc/hosts maps the Docker
Hub names (and registry-server) to 127.0.0.1 and whose /etc/docker is a temp
directory, so nothing leaves loopback and the machine's own Docker setup is
never touched (see ../shared/clients.md)."""
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time

import tls_setup
from test_tls_auth import PASSWORD, USER, classic

DOCKER = "/usr/bin/docker"
HUB_NAMES = ("registry-1.docker.io index.docker.io auth.docker.io registry.docker.io "
             "docker.io production.cloudflare.docker.com")


class Dockerd:
    def __init__(self, tmp):
        self.tmp = tmp
        self.sock = os.path.join(tmp, "docker.sock")
        self.etc = os.path.join(tmp, "etc-docker")
        os.makedirs(self.etc, exist_ok=True)
        hosts = os.path.join(tmp, "hosts")
        with open(hosts, "w") as f:
            f.write(f"127.0.0.1 localhost registry-server {HUB_NAMES}\n::1 localhost\n")
        cfg = os.path.join(tmp, "daemon.json")
        with open(cfg, "w") as f:
            json.dump({"storage-driver": "vfs", "iptables": False, "ip-masq": False,
                       "bridge": "none"}, f)
        for d in ("data", "exec"):
            os.makedirs(os.path.join(tmp, d))
        self.log = open(os.path.join(tmp, "dockerd.log"), "w")
        cmd = (f"mount --bind {hosts} /etc/hosts && mount --bind {self.etc} /etc/docker && "
               f"exec dockerd --config-file {cfg} --data-root {tmp}/data --exec-root {tmp}/exec "
               f"--pidfile {tmp}/docker.pid -H unix://{self.sock}")
        self.proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--",
                                      "sh", "-c", cmd], stdout=self.log, stderr=self.log)
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "DOCKER_CONFIG": os.path.join(tmp, "client")}
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.docker("info", check=False).returncode == 0:
                return
            assert self.proc.poll() is None, open(os.path.join(tmp, "dockerd.log")).read()
            time.sleep(0.3)
        raise RuntimeError("dockerd did not start")

    def docker(self, *args, check=True, input=None):
        r = subprocess.run([DOCKER, "-H", f"unix://{self.sock}", *args], env=self.env,
                           capture_output=True, timeout=180, input=input)
        if check and r.returncode != 0:
            raise AssertionError(f"docker {args}: {r.stderr.decode()}")
        return r

    def trust(self, hostport, crt):
        tls_setup.cert_dir(os.path.join(self.etc, "certs.d", hostport), crt)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        subprocess.run(["umount", "-R", os.path.join(self.tmp, "exec")], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


def busybox_archive():
    """A `docker save` archive of a one-layer image holding busybox-static."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as t:
        info = tarfile.TarInfo("bin")
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        t.addfile(info)
        with open("/bin/busybox", "rb") as f:
            data = f.read()
        info = tarfile.TarInfo("bin/busybox")
        info.size = len(data)
        info.mode = 0o755
        t.addfile(info, io.BytesIO(data))
    layer_bytes = layer.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Cmd": ["/bin/busybox", "echo", "hello from wharf"]},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as t:
        for name, data in [("layer.tar", layer_bytes), (config_name, config),
                           ("manifest.json", json.dumps([{"Config": config_name,
                                                          "RepoTags": ["wharf-test:1"],
                                                          "Layers": ["layer.tar"]}]).encode())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_docker_login_push_pull_run(make_wharf, tmp_path):
    w = classic(make_wharf, tmp_path)
    # A short path: containerd's socket lives below it (sun_path is 108 bytes).
    d = Dockerd(tempfile.mkdtemp(prefix="wd", dir="/tmp"))
    try:
        host = f"registry-server:{w.port}"
        d.trust(host, w.crt)
        image = f"{host}/team/busybox:1"
        d.docker("load", input=busybox_archive())
        d.docker("tag", "wharf-test:1", image)
        # Not logged in: the push is refused.
        r = d.docker("push", image, check=False)
        assert r.returncode != 0
        assert b"no basic auth credentials" in r.stderr or b"unauthorized" in r.stderr.lower()
        r = d.docker("login", "-u", USER, "--password-stdin", host, input=PASSWORD.encode())
        assert b"Login Succeeded" in r.stdout
        bad = d.docker("login", "-u", USER, "--password-stdin", host, input=b"wrong", check=False)
        assert bad.returncode != 0
        d.docker("login", "-u", USER, "--password-stdin", host, input=PASSWORD.encode())
        d.docker("push", image)
        d.docker("rmi", image, "wharf-test:1")
        d.docker("pull", image)
        run = d.docker("run", "--rm", "--network", "none", image)
        assert run.stdout.strip() == b"hello from wharf"
        d.docker("logout", host)
        d.docker("rmi", image)
        r = d.docker("pull", image, check=False)
        assert r.returncode != 0
    finally:
        d.stop()
