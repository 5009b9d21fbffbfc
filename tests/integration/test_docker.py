"""The real Docker engine (Debian's docker.io, dockerd 20.10) against Wharf
over TLS with htpasswd: login, push, remove, pull, run, logout.

dockerd runs in a private mount namespace whose /etc/hosts maps the Docker
Hub names (and registry-server) to 127.0.0.1 and whose /etc/docker is a temp
directory, so nothing leaves loopback and the machine's own Docker setup is
never touched (see ../shared/clients.md)."""
import base64
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time

import tls_setup
from test_skopeo import skopeo
from test_tls_auth import PASSWORD, USER, classic

DOCKER = "/usr/bin/docker"
HUB_NAMES = ("registry-1.docker.io index.docker.io auth.docker.io registry.docker.io "
             "docker.io production.cloudflare.docker.com")


class Dockerd:
    def __init__(self, tmp, mirrors=None):
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
                       "bridge": "none", "registry-mirrors": mirrors or []}, f)
        for d in ("data", "exec"):
            os.makedirs(os.path.join(tmp, d))
        self.log = open(os.path.join(tmp, "dockerd.log"), "w")
        cmd = (f"mount --bind {hosts} /etc/hosts && mount --bind {self.etc} /etc/docker && "
               f"exec dockerd --debug --config-file {cfg} --data-root {tmp}/data --exec-root {tmp}/exec "
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


def dockerd_with_image_for(w):
    """A dockerd that trusts TLS Wharf `w` as registry-server:<port> and holds
    the busybox image tagged for it; returns (dockerd, host, image)."""
    # A short path: containerd's socket lives below it (sun_path is 108 bytes).
    d = Dockerd(tempfile.mkdtemp(prefix="wd", dir="/tmp"))
    host = f"registry-server:{w.port}"
    image = f"{host}/team/busybox:1"
    try:
        d.trust(host, w.crt)
        d.docker("load", input=busybox_archive())
        d.docker("tag", "wharf-test:1", image)
    except BaseException:
        d.stop()
        raise
    return d, host, image


def test_docker_login_push_pull_run(make_wharf, tmp_path):
    w = classic(make_wharf, tmp_path)
    d, host, image = dockerd_with_image_for(w)
    try:
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


def test_docker_push_over_a_quota_is_refused_while_its_layer_streams(make_wharf, tmp_path):
    """docker sends a layer as one PATCH without a length: under a quota it
    cannot fit, the layer is refused once its bytes outgrow the room, not
    after the whole of it, docker says why and does not retry, and nothing
    is left behind. Another repository takes the same push."""
    w = classic(make_wharf, tmp_path,
                extra={"WHARF_STORAGE_QUOTAS": json.dumps([{"prefix": "team", "max_bytes": 200000}])})
    d, host, image = dockerd_with_image_for(w)
    try:
        d.docker("login", "-u", USER, "--password-stdin", host, input=PASSWORD.encode())
        r = d.docker("push", image, check=False)
        assert r.returncode != 0
        err = r.stderr.decode()
        assert "denied: quota exceeded: the repositories under team hold" in err, err
        assert "and this upload comes to at least" in err, err  # the streamed layer's cap, not its commit
        assert os.listdir(os.path.join(w.env["WHARF_STORAGE_ROOT"], "uploads")) == []
        pushes = [l for l in w.stdout().splitlines() if " PATCH /v2/team/busybox/blobs/uploads/" in l]
        assert len(pushes) == 1, pushes  # not retried
        d.docker("tag", image, f"{host}/other/busybox:1")
        d.docker("push", f"{host}/other/busybox:1")
    finally:
        d.stop()


def test_docker_login_in_token_mode_keeps_a_refresh_token_not_the_password(make_wharf, tmp_path):
    """In token mode `docker login` gets a refresh token and stores it in
    config.json in place of the password; pushes and pulls trade it for
    access tokens, also after Wharf restarts (its signing key is on disk)."""
    from test_tls_auth import start_tls
    w = classic(make_wharf, tmp_path, extra={"WHARF_AUTH_TOKEN_ENABLED": "true"})
    d, host, image = dockerd_with_image_for(w)
    try:
        d.docker("login", "-u", USER, "--password-stdin", host, input=PASSWORD.encode())
        stored = json.load(open(os.path.join(d.env["DOCKER_CONFIG"], "config.json")))["auths"][host]
        assert stored.get("identitytoken") and PASSWORD.encode() not in json.dumps(stored).encode()
        assert base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode() not in json.dumps(stored)
        d.docker("push", image)
        w.stop()
        start_tls(w)
        d.docker("rmi", image, "wharf-test:1")
        d.docker("pull", image)
        run = d.docker("run", "--rm", "--network", "none", image)
        assert run.stdout.strip() == b"hello from wharf"
        log = w.stdout()
        assert "POST /auth/token 200" in log and "GET /v2/team/busybox/manifests/" in log
    finally:
        d.stop()


def test_docker_registry_mirror_pulls_through_wharf(make_wharf, tmp_path):
    """dockerd with registry-mirrors pointing at Wharf, which proxies a local
    docker-registry that holds library/alpine (a busybox image under that
    name). Docker Hub names resolve to 127.0.0.1 inside dockerd's namespace,
    so a pull can only succeed through the mirror, and dockerd's debug log
    must show no fallback to the next endpoint."""
    from test_proxy import proxy_env
    from upstream import Registry
    up = Registry(str(tmp_path / "up")).start()
    d = Dockerd(tempfile.mkdtemp(prefix="wd", dir="/tmp"))
    try:
        # Seed the upstream (plain HTTP on 127.0.0.1 is allowed by default).
        d.docker("load", input=busybox_archive())
        d.docker("tag", "wharf-test:1", f"127.0.0.1:{up.port}/library/alpine:latest")
        d.docker("push", f"127.0.0.1:{up.port}/library/alpine:latest")
    finally:
        d.stop()
    w = make_wharf(env=proxy_env(up.url)).start()
    d = Dockerd(tempfile.mkdtemp(prefix="wd", dir="/tmp"), mirrors=[w.url])
    try:
        d.docker("pull", "alpine:latest")
        run = d.docker("run", "--rm", "--network", "none", "alpine:latest")
        assert run.stdout.strip() == b"hello from wharf"
        log = w.stdout()
        assert "GET /v2/" in log and "/v2/library/alpine/manifests/latest" in log
        daemon_log = open(os.path.join(d.tmp, "dockerd.log")).read()
        assert "Attempting next endpoint" not in daemon_log
    finally:
        d.stop()
        up.stop()


def ctr(d, *args):
    """ctr (containerd 1.6) on the containerd that dockerd started, with
    Docker Hub's names pointing at loopback."""
    sock = os.path.join(d.tmp, "exec", "containerd", "containerd.sock")
    hosts = os.path.join(d.tmp, "hosts")
    cmd = " ".join([f"mount --bind {hosts} /etc/hosts && exec ctr --address {sock} -n wharftest", *args])
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", cmd],
                          capture_output=True, timeout=120)


def ctr_pull(d, ref, hosts_dir, *args):
    return ctr(d, "images pull", *args, f"--hosts-dir {hosts_dir} {ref}")


def test_containerd_hosts_toml_mirror(make_wharf, tmp_path):
    """ctr (containerd 1.6) with a hosts.toml mirror: every request carries
    ?ns=docker.io and goes to Wharf."""
    from test_proxy import proxy_env
    from upstream import Registry
    up = Registry(str(tmp_path / "up")).start()
    d = Dockerd(tempfile.mkdtemp(prefix="wd", dir="/tmp"))
    try:
        d.docker("load", input=busybox_archive())
        d.docker("tag", "wharf-test:1", f"127.0.0.1:{up.port}/library/busybox:1.36")
        d.docker("push", f"127.0.0.1:{up.port}/library/busybox:1.36")
        w = make_wharf(env=proxy_env(up.url)).start()
        hosts_dir = tmp_path / "certs.d"
        (hosts_dir / "docker.io").mkdir(parents=True)
        (hosts_dir / "docker.io" / "hosts.toml").write_text(
            'server = "https://registry-1.docker.io"\n\n'
            f'[host."{w.url}"]\n  capabilities = ["pull", "resolve"]\n')
        r = ctr_pull(d, "docker.io/library/busybox:1.36", hosts_dir)
        assert r.returncode == 0, r.stderr.decode() + r.stdout.decode()
        log = w.stdout()
        assert "/v2/library/busybox/manifests/1.36?ns=docker.io" in log
        assert "/blobs/sha256:" in log and "?ns=docker.io" in log
    finally:
        d.stop()
        up.stop()


def test_containerd_pulls_with_credentials_like_the_kubelet(make_wharf, tmp_path):
    """What the kubelet does with an imagePullSecrets docker-registry secret:
    containerd pulls from Wharf over TLS with a self-signed CA and a login,
    with htpasswd (Basic) and in token mode, where containerd first POSTs an
    OAuth2 password form to the token service."""
    archive = tmp_path / "busybox.tar"
    archive.write_bytes(busybox_archive())
    d = Dockerd(tempfile.mkdtemp(prefix="wd", dir="/tmp"))
    try:
        for mode, extra in (("basic", {}), ("token", {"WHARF_AUTH_TOKEN_ENABLED": "true"})):
            base = tmp_path / mode
            base.mkdir()
            w = classic(make_wharf, base, extra=extra)
            host = f"127.0.0.1:{w.port}"
            ref = f"{host}/team/busybox:1"
            skopeo("copy", "--dest-cert-dir", w.certdir, "--dest-creds", f"{USER}:{PASSWORD}",
                   f"docker-archive:{archive}", f"docker://{ref}")
            pushed = len(w.stdout())  # containerd's requests come after skopeo's
            hosts_dir = base / "certs.d"
            (hosts_dir / host).mkdir(parents=True)
            (hosts_dir / host / "hosts.toml").write_text(
                f'server = "https://{host}"\n\n[host."https://{host}"]\n'
                f'  ca = "{w.crt}"\n  capabilities = ["pull", "resolve"]\n')
            r = ctr_pull(d, ref, hosts_dir)
            assert r.returncode != 0, mode
            r = ctr_pull(d, ref, hosts_dir, "--user", f"{USER}:wrong")
            assert r.returncode != 0, mode
            r = ctr_pull(d, ref, hosts_dir, "--user", f"{USER}:{PASSWORD}")
            assert r.returncode == 0, mode + ": " + r.stderr.decode() + r.stdout.decode()
            log = w.stdout()[pushed:]
            assert re.search(r" GET /v2/team/busybox/blobs/sha256:[0-9a-f]{64}\S* 200 ", log), log
            if mode == "token":
                # The OAuth2 form was taken: no 405, and no GET after it
                # but the one that follows the wrong password's 401.
                assert re.search(r" POST /auth/token\S* 200 ", log), log
                assert not re.search(r"/auth/token\S* 405 | GET /auth/token\S* 200 ", log), log
            assert ctr(d, "images rm", ref).returncode == 0
    finally:
        d.stop()
