"""What the benchmark scripts share: servers started on pinned cores and
measured from /proc, the reference registry's configuration, synthetic images
pushed with wharf-bench, and the spread of repeated samples."""
import json
import os
import shutil
import socket
import statistics
import subprocess
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORES = os.cpu_count() or 1


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Where the "server on both cores" variants run: what a server with a spare
# core does (Wharf hashes uploads and fills on it). The client stays on core 1.
BOTH_CORES = "0,1"


def pinned(cores, cmd):
    if CORES >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(cores)] + cmd
    return cmd


class Server:
    def __init__(self, name, cmd, env, ready_url, log, cores=0):
        self.name = name
        self.proc = subprocess.Popen(pinned(cores, cmd), env={**os.environ, **env},
                                     stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        ctx = __import__("ssl")._create_unverified_context()
        while time.time() < deadline:
            try:
                urllib.request.urlopen(ready_url, timeout=1, context=ctx)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError(f"{name} did not start")
        self.pid = self.main_pid()

    def main_pid(self):
        # nginx forks a worker; measure the whole process group's children too.
        return self.proc.pid

    def pids(self):
        out = [self.pid]
        try:
            kids = subprocess.run(["pgrep", "-P", str(self.pid)], capture_output=True, text=True).stdout
            out += [int(p) for p in kids.split()]
        except OSError:
            pass
        return out

    def cpu(self):
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            try:
                f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                total += (int(f[11]) + int(f[12])) / tick
            except OSError:
                pass
        return total

    def reset_hwm(self):
        """Restarts the peak-RSS counter (VmHWM), so that each workload gets its own peak."""
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/clear_refs", "w") as f:
                    f.write("5")
            except OSError:
                pass

    def hwm_mb(self):
        best = 0
        for pid in self.pids():
            try:
                for line in open(f"/proc/{pid}/status"):
                    if line.startswith("VmHWM:"):
                        best = max(best, int(line.split()[1]) / 1024)
            except OSError:
                pass
        return best

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def seed_image(args, url, layers, layer_size, prefix, seed):
    """Pushes one synthetic image (content reproducible from `seed`) with
    wharf-bench; returns what it printed for it (image, layers, manifest)."""
    r = subprocess.run([args.bench, "seed", url, "--images", "1", "--layers", str(layers),
                        "--size", str(layer_size), "--prefix", prefix, "--seed", str(seed)],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)[0]


def registry_config(path, root, port, extra="", accesslog=False, tls=None):
    with open(path, "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: {str(not accesslog).lower()}\n"
                f"storage:\n  filesystem:\n    rootdirectory: {root}\n"
                f"http:\n  addr: 127.0.0.1:{port}\n")
        if tls:
            f.write(f"  tls:\n    certificate: {tls[0]}\n    key: {tls[1]}\n")
        f.write(extra)


def evict_written(root, min_bytes=256 << 20):
    """Drops the page cache of the big files a push or a proxy fill wrote under
    `root`. A full run writes about 18 GB; without this, the page cache fills
    the machine's memory and the later workloads pay for reclaim."""
    os.sync()
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            try:
                if os.path.getsize(path) >= min_bytes:
                    fd = os.open(path, os.O_RDONLY)
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                    os.close(fd)
            except OSError:
                pass


def reference_registry(name, cfg, ready_url, log, cores=0):
    """Debian's docker-registry with config `cfg`, on `cores`, with as many Go
    threads running at once as it has cores."""
    return Server(name, ["/usr/bin/docker-registry", "serve", cfg],
                  {"GOMAXPROCS": str(len(str(cores).split(",")))}, ready_url, log, cores)


def registry_on_free_port(name, cfg, root, log, cores=0, accesslog=False, extra=""):
    """The reference registry storing under `root` on a free loopback port,
    its configuration written to `cfg`, on `cores`. Returns (server, port)."""
    port = free_port()
    registry_config(cfg, root, port, extra=extra, accesslog=accesslog)
    return reference_registry(name, cfg, f"http://127.0.0.1:{port}/v2/", log, cores), port


def start_proxy(args, who, root, upstream_url, log, wharf_env=None, cores=0):
    """Wharf ("wharf") or the reference registry ("registry") as a pull-through
    cache of `upstream_url`, storing under `root`, on a free port, on `cores`.
    Returns (server, port)."""
    if who == "wharf":
        port = free_port()
        env = {"WHARF_STORAGE_ROOT": root, "WHARF_WORKERS": "1", "WHARF_HTTP_ACCESS_LOG": "off",
               "REGISTRY_HTTP_ADDR": f"127.0.0.1:{port}", "REGISTRY_PROXY_REMOTEURL": upstream_url}
        srv = Server("wharf-proxy", [args.wharf, "serve"], {**env, **(wharf_env or {})},
                     f"http://127.0.0.1:{port}/healthz", log, cores)
        return srv, port
    os.makedirs(root, exist_ok=True)
    return registry_on_free_port("registry-proxy", os.path.join(root, "proxy.yml"), root, log, cores,
                                 extra=f"proxy:\n  remoteurl: {upstream_url}\n")


def spread_of(vals):
    """' ±N%': half the spread of `vals` relative to their median ('' for one value)."""
    if len(vals) < 2:
        return ""
    return f" ±{(max(vals) - min(vals)) / 2 / (statistics.median(vals) or 1) * 100:.0f}%"
