"""Runs the comparison suite; see compare.sh. Ratios, not absolute numbers,
are what carry from one noisy machine to another."""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORES = os.cpu_count() or 1
PROFILES_MARKER = "<!-- profiles: kept by compare.py -->"
ACCEPT = ("Accept: application/vnd.oci.image.manifest.v1+json, "
          "application/vnd.docker.distribution.manifest.v2+json")


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


def bench(args, server, bench_args):
    """Runs wharf-bench on core 1; returns its JSON plus the server's CPU."""
    server.reset_hwm()
    cpu0 = server.cpu()
    r = subprocess.run(pinned(1, [args.bench] + bench_args + ["--json", "--quiet"]),
                       capture_output=True, text=True, timeout=600)
    cpu = server.cpu() - cpu0
    try:
        out = json.loads(r.stdout)
    except ValueError:
        out = {"error": r.stderr[-300:]}
    out["server_cpu_seconds"] = cpu
    out["server_peak_rss_mb"] = server.hwm_mb()
    gb = out.get("bytes", 0) / 1e9
    out["server_cpu_per_gb"] = cpu / gb if gb > 0 else None
    return out


WRK_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600,
             "B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}


def wrk(url, conns, seconds):
    """wrk, the usual HTTP load tool, on core 1 (where wharf-bench runs) for
    the same GETs: its GB/s and its own CPU seconds per GB, or None when wrk
    is missing or fails."""
    if not shutil.which("wrk"):
        return None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(pinned(1, ["wrk", "-t1", f"-c{conns}", f"-d{seconds:g}s", url]),
                       capture_output=True, text=True, timeout=seconds + 120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    m = re.search(r"requests in ([\d.]+)(\w+), ([\d.]+)(\w+) read", r.stdout)
    if r.returncode != 0 or not m or m.group(2) not in WRK_UNITS or m.group(4) not in WRK_UNITS:
        return None
    took = float(m.group(1)) * WRK_UNITS[m.group(2)]
    gb = float(m.group(3)) * WRK_UNITS[m.group(4)] / 1e9
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"gigabytes_per_second": gb / took if took else None, "client_cpu_seconds_per_gb": cpu / gb if gb else None}


def one_core_limits(args):
    """What one core can do for a push with nothing written: SHA-256 of data in
    cache, and receiving over loopback TCP while hashing (micro_bench, on the
    servers' core; its sender runs on another). Returns GB/s for each, or {}
    when micro_bench is missing or fails."""
    r = subprocess.run(pinned(0, [args.micro, "--benchmark_filter=^BM_(Sha256PerMiB|ReceiveAndHash)",
                                  "--benchmark_format=json",
                                  f"--benchmark_min_time={0.1 if args.short else 1}"]),
                       capture_output=True, text=True, timeout=120)
    try:
        rows = json.loads(r.stdout)["benchmarks"]
    except (ValueError, KeyError):
        return {}
    names = {"BM_Sha256PerMiB": "sha256", "BM_ReceiveAndHash/real_time": "receive_hash"}
    return {names[b["name"]]: b["bytes_per_second"] / 1e9 for b in rows if b["name"] in names}


def seed_image(args, url, layers, layer_size, prefix, seed):
    """Pushes one synthetic image (content reproducible from `seed`) with
    wharf-bench; returns what it printed for it (image, layers, manifest)."""
    r = subprocess.run([args.bench, "seed", url, "--images", "1", "--layers", str(layers),
                        "--size", str(layer_size), "--prefix", prefix, "--seed", str(seed)],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)[0]


def seed(args, url, size, tag):
    """Identical synthetic images (reproducible content) in a registry."""
    return {prefix: seed_image(args, url, layers, layer_size, prefix, 7)
            for prefix, layers, layer_size in [("bench/big", 1, size), ("bench/small", 1, 1 << 20),
                                               ("bench/five", 5, max(size // 16, 1 << 20))]}


def registry_config(path, root, port, extra="", accesslog=False, tls=None):
    with open(path, "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: {str(not accesslog).lower()}\n"
                f"storage:\n  filesystem:\n    rootdirectory: {root}\n"
                f"http:\n  addr: 127.0.0.1:{port}\n")
        if tls:
            f.write(f"  tls:\n    certificate: {tls[0]}\n    key: {tls[1]}\n")
        f.write(extra)


def upstream_bytes(log_path, digest):
    """Body bytes the upstream sent for `digest`, from its access log."""
    total = 0
    for line in open(log_path, errors="replace"):
        if f"/blobs/{digest} " in line and '"GET ' in line:
            try:
                total += int(line.split('" ', 1)[1].split()[1])
            except (IndexError, ValueError):
                pass
    return total


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


def start_proxy(args, who, root, upstream_url, log, wharf_env=None, cores=0):
    """Wharf ("wharf") or the reference registry ("registry") as a pull-through
    cache of `upstream_url`, storing under `root`, on a free port, on `cores`.
    Returns (server, port)."""
    port = free_port()
    if who == "wharf":
        env = {"WHARF_STORAGE_ROOT": root, "WHARF_WORKERS": "1", "WHARF_HTTP_ACCESS_LOG": "off",
               "REGISTRY_HTTP_ADDR": f"127.0.0.1:{port}", "REGISTRY_PROXY_REMOTEURL": upstream_url}
        srv = Server("wharf-proxy", [args.wharf, "serve"], {**env, **(wharf_env or {})},
                     f"http://127.0.0.1:{port}/healthz", log, cores)
    else:
        os.makedirs(root, exist_ok=True)
        cfg = os.path.join(root, "proxy.yml")
        registry_config(cfg, root, port, extra=f"proxy:\n  remoteurl: {upstream_url}\n")
        srv = reference_registry("registry-proxy", cfg, f"http://127.0.0.1:{port}/v2/", log, cores)
    return srv, port


# Extra TTFB samples per round, each from a fresh proxy (a single sample per
# round swings by +-50% on these machines).
TTFB_EXTRA = 8
# Cold blobs asked of one running proxy per round (after one more that warms
# the process up): the cold miss a long-running mirror sees.
TTFB_RUNNING = 8


def cold_miss(args, tmp, reg_root, digest, blob_size, log, small_digest, running_digests):
    """Pull-through of a cold blob: 8 concurrent clients and 1 client, through
    a fresh Wharf and a fresh reference registry in proxy mode, against direct
    GETs from the upstream; TTFB also from TTFB_EXTRA more fresh proxies per
    round, each asked once for the cold blob `small_digest`, and from one
    running proxy per round asked for the cold blobs `running_digests` (the
    first one only warms it up). Returns rows for the report."""
    up_port = free_port()
    up_cfg = os.path.join(tmp, "upstream.yml")
    up_log_path = os.path.join(tmp, "upstream.log")
    registry_config(up_cfg, reg_root, up_port, accesslog=True)
    up_log = open(up_log_path, "w")
    upstream = reference_registry("upstream", up_cfg, f"http://127.0.0.1:{up_port}/v2/", up_log)
    up_url = f"http://127.0.0.1:{up_port}"
    # The same registry files served by a second upstream on the clients'
    # core, as a remote mirror has its own CPU: for TTFB samples, where the
    # proxy then has core 0 to itself and curl idles beside the upstream.
    far_port = free_port()
    far_cfg = os.path.join(tmp, "upstream-far.yml")
    registry_config(far_cfg, reg_root, far_port)
    far_url = f"http://127.0.0.1:{far_port}"
    far = reference_registry("upstream-far", far_cfg, f"{far_url}/v2/", log, cores=1) if CORES >= 2 else None
    rows = {}
    try:
        def one_client(*urls):
            """GETs `urls` in turn with one curl, which keeps one connection
            per server; [(ttfb, total)] in seconds, one per URL."""
            os.sync()  # no writeback of earlier runs' gigabytes during this one
            cmd = ["curl", "-s", "-w", "%{time_starttransfer} %{time_total}\n"]
            for url in urls:
                cmd += ["-o", "/dev/null", url]
            r = subprocess.run(pinned(1, cmd), capture_output=True, text=True, timeout=600)
            return [tuple(float(x) for x in line.split()) for line in r.stdout.splitlines()]

        def eight_clients(url):
            os.sync()
            r = subprocess.run(pinned(1, [args.bench, "blob", url, "-c", "8", "-n", "8", "--json", "--quiet"]),
                               capture_output=True, text=True, timeout=900)
            return json.loads(r.stdout)["seconds"]

        path = f"/v2/bench/cold0/blobs/{digest}"
        small_path = f"/v2/bench/ttfb0/blobs/{small_digest}"
        proxies = ["wharf", "registry"] + (["wharf_both"] if CORES >= 2 else [])
        samples = {who: {"ttfb": [], "ttfb_running": [], "ttfb_far": [], "total1": [], "core0_cpu": [],
                         "wall8": [], "upstream_bytes": [], "rss_mb": []} for who in ["direct"] + proxies}
        running_paths = [f"/v2/bench/ttfbrun0/blobs/{d}" for d in running_digests]
        # Interleaved rounds; every proxied measurement starts a fresh, empty proxy.
        def measure(mode, got, base, on_core0):
            url = base + (small_path if mode.startswith("ttfb") else path)
            if mode == "running":
                if base == up_url:
                    return  # the direct samples are taken beside the proxied ones
                # One client that keeps its connections, as docker and
                # containerd do, so that the direct GETs reach the upstream on
                # a kept-alive connection like the proxy's own. With a new
                # connection per direct GET, the reference registry answered
                # the proxy's kept-alive connection later and less evenly
                # (bench/upstream_keepalive.py). The first two GETs open both
                # connections and warm the proxy up.
                order = [(got, base + running_paths[0]), (None, up_url + running_paths[0])]
                for i, p in enumerate(running_paths[1:]):
                    pair = [(got, base + p), (samples["direct"], up_url + p)]
                    order += pair if i % 2 else pair[::-1]
                for (g, _), (ttfb, _) in zip(order[2:], one_client(*(u for _, u in order))[2:]):
                    g["ttfb_running"].append(ttfb)
            elif mode.startswith("ttfb"):
                got[mode].append(one_client(url)[0][0])
            elif mode == "one":
                cpu0 = sum(srv.cpu() for srv in on_core0)
                (ttfb, total), = one_client(url)
                got["ttfb"].append(ttfb)
                got["total1"].append(total)
                got["core0_cpu"].append(sum(srv.cpu() for srv in on_core0) - cpu0)
            else:
                got["wall8"].append(eight_clients(url))

        far_modes = ("ttfb_far",) * TTFB_EXTRA if far else ()
        for _ in range(args.rounds):
            for mode in ("one", "eight") + ("ttfb",) * TTFB_EXTRA + far_modes + ("running",):
                base = far_url if mode == "ttfb_far" else up_url
                measure(mode, samples["direct"], base, [upstream])
                for who in proxies:
                    if mode == "ttfb_far" and who.endswith("_both"):
                        continue  # that proxy would share core 1 with the upstream
                    got = samples[who]
                    root = tempfile.mkdtemp(prefix=f"cold-{who}-", dir=tmp)
                    before = upstream_bytes(up_log_path, digest)
                    srv, port = start_proxy(args, who.split("_")[0], root, base, log,
                                            cores=BOTH_CORES if who.endswith("_both") else 0)
                    try:
                        measure(mode, got, f"http://127.0.0.1:{port}", [upstream, srv])
                        if mode == "eight":
                            time.sleep(0.5)  # let the upstream log its lines
                            got["upstream_bytes"].append(upstream_bytes(up_log_path, digest) - before)
                            got["rss_mb"].append(round(srv.hwm_mb(), 1))
                    finally:
                        srv.stop()
                        evict_written(root)
        rows["samples"] = samples
        for who, got in samples.items():
            rows[who] = {k: ((statistics.median(v), spread_of(v)) if v else None)
                         if k in ("ttfb", "ttfb_running", "ttfb_far", "total1", "core0_cpu", "wall8") else
                         (max(v) if v else None) for k, v in got.items()}
        rows["blob_size"] = blob_size
    finally:
        upstream.stop()
        if far:
            far.stop()
    return rows


def blob_path(digest):
    h = digest.split(":", 1)[1]
    return f"/blobs/sha256/{h[:2]}/{h}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--short", action="store_true", help="smoke run: 1 round, 1 s, small blobs")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--wharf", default=os.path.join(ROOT, "build", "src", "wharf"))
    ap.add_argument("--bench", default=os.path.join(ROOT, "build", "bench", "wharf-bench"))
    ap.add_argument("--micro", default=None, help="micro_bench (default: next to --bench)")
    ap.add_argument("--only", default="", help="run only the workloads whose label contains this text "
                    "(e.g. 'Connection: close', 'push', 'cold'); prints, does not write RESULTS.md")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS.md"))
    args = ap.parse_args()
    if args.short:
        args.rounds, args.seconds = 1, 1
    args.micro = args.micro or os.path.join(os.path.dirname(args.bench), "micro_bench")
    size = (4 << 20) if args.short else (64 << 20)
    tmp = tempfile.mkdtemp(prefix="wharf-compare-")
    log = open(os.path.join(tmp, "servers.log"), "w")
    crt, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-x509", "-days", "2", "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", crt,
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    ports = {k: free_port() for k in ["wharf", "wharf_tls", "wharf_both", "reg", "reg_tls", "reg_both",
                                      "nginx", "nginx_tls"]}
    wroot = os.path.join(tmp, "wharf")
    servers = {}
    try:
        servers["wharf"] = Server("wharf", [args.wharf, "serve"], {
            "WHARF_STORAGE_ROOT": wroot, "WHARF_WORKERS": "1", "WHARF_PROXY_ENABLED": "false",
            "WHARF_HTTP_ACCESS_LOG": "off", "REGISTRY_HTTP_ADDR": f"127.0.0.1:{ports['wharf_tls']}",
            "REGISTRY_HTTP_TLS_CERTIFICATE": crt, "REGISTRY_HTTP_TLS_KEY": key,
            "WHARF_HTTP_PLAIN_ADDR": f"127.0.0.1:{ports['wharf']}"},
            f"http://127.0.0.1:{ports['wharf']}/healthz", log)
        servers["wharf_both"] = Server("wharf-both", [args.wharf, "serve"], {
            "WHARF_STORAGE_ROOT": wroot + "-both", "WHARF_WORKERS": "1", "WHARF_PROXY_ENABLED": "false",
            "WHARF_HTTP_ACCESS_LOG": "off", "REGISTRY_HTTP_ADDR": f"127.0.0.1:{ports['wharf_both']}"},
            f"http://127.0.0.1:{ports['wharf_both']}/healthz", log, BOTH_CORES)
        reg_root = os.path.join(tmp, "registry")
        for name, port, tls, cores in [("registry", ports["reg"], False, 0),
                                       ("registry_tls", ports["reg_tls"], True, 0),
                                       ("registry_both", ports["reg_both"], False, BOTH_CORES)]:
            cfg = os.path.join(tmp, f"{name}.yml")
            registry_config(cfg, reg_root, port, tls=(crt, key) if tls else None)
            scheme = "https" if tls else "http"
            servers[name] = reference_registry(name, cfg, f"{scheme}://127.0.0.1:{port}/v2/", log, cores)
        ngx = os.path.join(tmp, "nginx.conf")
        with open(ngx, "w") as f:
            f.write(f"""daemon off; worker_processes 1; pid {tmp}/nginx.pid; error_log {tmp}/nginx.err;
events {{ worker_connections 4096; }}
http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  default_type application/octet-stream;
  server {{ listen 127.0.0.1:{ports['nginx']}; root {wroot}; }}
  server {{ listen 127.0.0.1:{ports['nginx_tls']} ssl; root {wroot};
           ssl_certificate {crt}; ssl_certificate_key {key}; ssl_protocols TLSv1.3; }}
}}
""")
        servers["nginx"] = Server("nginx", ["/usr/sbin/nginx", "-c", ngx, "-p", tmp], {},
                                  f"http://127.0.0.1:{ports['nginx']}/", log)
        wurl, rurl = f"http://127.0.0.1:{ports['wharf']}", f"http://127.0.0.1:{ports['reg']}"
        imgs = seed(args, wurl, size, "w")
        imgs_r = seed(args, rurl, size, "r")
        assert imgs == imgs_r, "seeding gave different content"
        big = imgs["bench/big"]["layers"][0]["digest"]
        small = imgs["bench/small"]["layers"][0]["digest"]
        small_manifest = imgs["bench/small"]["manifest"]
        secs = ["-d", str(args.seconds)]

        def urls(kind, digest, tls=False):
            s = "https" if tls else "http"
            if kind == "blob":
                return {"nginx": (f"{s}://127.0.0.1:{ports['nginx_tls' if tls else 'nginx']}{blob_path(digest)}", "nginx"),
                        "wharf": (f"{s}://127.0.0.1:{ports['wharf_tls' if tls else 'wharf']}/v2/bench/big0/blobs/{digest}", "wharf"),
                        "registry": (f"{s}://127.0.0.1:{ports['reg_tls' if tls else 'reg']}/v2/bench/big0/blobs/{digest}",
                                     "registry_tls" if tls else "registry")}
            raise ValueError(kind)

        workloads = []
        for c in ([1, 8, 64] if not args.short else [8]):
            workloads.append((f"GET {size >> 20} MiB blob, plain, c={c}", urls("blob", big), ["-c", str(c)] + secs))
        for c in ([8, 64] if not args.short else [8]):
            workloads.append((f"GET {size >> 20} MiB blob, TLS, c={c}", urls("blob", big, True),
                              ["-c", str(c), "--insecure"] + secs))
        small_urls = {"nginx": (f"http://127.0.0.1:{ports['nginx']}{blob_path(small)}", "nginx"),
                      "wharf": (f"{wurl}/v2/bench/small0/blobs/{small}", "wharf"),
                      "registry": (f"{rurl}/v2/bench/small0/blobs/{small}", "registry")}
        workloads.append(("GET 1 MiB blob, c=64", small_urls, ["-c", "64"] + secs))
        head_urls = small_urls
        workloads.append(("HEAD 1 MiB blob, c=64", head_urls, ["-c", "64", "--head"] + secs))
        man = {"nginx": (f"http://127.0.0.1:{ports['nginx']}{blob_path(small_manifest)}", "nginx"),
               "wharf": (f"{wurl}/v2/bench/small0/manifests/latest", "wharf"),
               "registry": (f"{rurl}/v2/bench/small0/manifests/latest", "registry")}
        workloads.append(("GET manifest by tag, c=64, keep-alive", man, ["-c", "64", "-H", ACCEPT] + secs))
        workloads.append(("GET manifest by tag, c=64, Connection: close", man,
                          ["-c", "64", "-H", ACCEPT, "--connection-close"] + secs))
        # Proxy mode: Wharf and the reference registry as pull-through caches of
        # the plain reference registry, warmed with one pull; Wharf's manifest
        # TTL outlasts the run, so every request is answered from its cache.
        proxied = {}
        for who in ("wharf", "registry"):
            servers[f"{who}_proxy"], port = start_proxy(args, who, os.path.join(tmp, f"{who}-proxy"), rurl, log,
                                                        {"WHARF_PROXY_MANIFEST_TTL_SECONDS": "86400"})
            url = f"http://127.0.0.1:{port}/v2/bench/small0/manifests/latest"
            warm = urllib.request.Request(url, headers=dict([ACCEPT.split(": ", 1)]))
            assert urllib.request.urlopen(warm, timeout=30).status == 200
            proxied[who] = (url, f"{who}_proxy")
        proxied["nginx"] = man["nginx"]
        workloads.append(("GET manifest by tag, c=64, keep-alive, proxy mode (warm, within TTL)", proxied,
                          ["-c", "64", "-H", ACCEPT] + secs))

        def wanted(label):
            return args.only.lower() in label.lower()

        results = {}
        limits = []
        tools = {}
        for rnd in range(args.rounds):
            for label, targets, extra in workloads:
                if not wanted(label):
                    continue
                for who in ["nginx", "wharf", "registry"]:  # interleaved A/B/C
                    url, sname = targets[who]
                    out = bench(args, servers[sname], ["blob", url] + extra)
                    results.setdefault(label, {}).setdefault(who, []).append(out)
            for label, targets, extra in workloads:
                # The load tools side by side: wrk against the same nginx URL.
                if "plain" in label and wanted(label) and "nginx" in results.get(label, {}):
                    out = wrk(targets["nginx"][0], int(extra[extra.index("-c") + 1]), args.seconds)
                    if out:
                        tools.setdefault(label, []).append(out)
            for who, sname, url in [("wharf", "wharf", wurl), ("registry", "registry", rurl)]:
                label = "pull of a 5-layer image, c=16"
                if wanted(label):
                    out = bench(args, servers[sname], ["pull", url, "bench/five0:latest", "-c", "16"] + secs)
                    results.setdefault(label, {}).setdefault(who, []).append(out)
            for both in ([False, True] if CORES >= 2 else [False]):
                for who in ("wharf", "registry"):
                    sname = f"{who}_both" if both else who
                    port = ports[{"wharf": "wharf", "registry": "reg"}[who] + ("_both" if both else "")]
                    for k, mode in enumerate((["--chunked"], [])):
                        label = (f"push of {(size * 16) >> 20} MiB, {'chunked' if mode else 'monolithic'}"
                                 f"{', server on cores 0-1' if both else ''}")
                        if not wanted(label):
                            continue
                        # New content every time: a blob the server has already is not a push.
                        out = bench(args, servers[sname], ["push", f"http://127.0.0.1:{port}", "-c", "1", "-n", "1",
                                                           "--size", str(size * 16),
                                                           "--seed", str(100 + 2 * rnd + k + (1000 if both else 0)),
                                                           "--prefix", f"push{rnd}"] + mode)
                        evict_written(reg_root if who == "registry" else wroot + ("-both" if both else ""))
                        results.setdefault(label, {}).setdefault(who, []).append(out)
            if wanted("push"):
                limits.append(one_core_limits(args))

        cold_size = (16 << 20) if args.short else (1 << 30)
        cold = None
        if wanted("pull-through cold miss"):
            def seed_layers(layers, layer_size, prefix, seed):
                return [layer["digest"] for layer in seed_image(args, rurl, layers, layer_size, prefix, seed)["layers"]]

            cold_digest, = seed_layers(1, cold_size, "bench/cold", 9)
            small_digest, = seed_layers(1, 1 << 20, "bench/ttfb", 11)
            running_digests = seed_layers(TTFB_RUNNING + 1, 1 << 20, "bench/ttfbrun", 13)
            cold = cold_miss(args, tmp, reg_root, cold_digest, cold_size, log, small_digest, running_digests)
        table = (render(results, args, size) + render_tools(results, tools) + render_limits(results, limits) +
                 (render_cold(cold) if cold else ""))
        print(table)
        if not args.short and not args.only:
            kept = ""  # the hand-written profiling notes below the marker survive a rerun
            if os.path.exists(args.out):
                prev = open(args.out).read()
                if PROFILES_MARKER in prev:
                    kept = "\n" + prev[prev.index(PROFILES_MARKER):]
            with open(args.out, "w") as f:
                f.write(table + kept)
            with open(os.path.join(ROOT, "bench", "results.json"), "w") as f:
                json.dump({**results, "wrk": tools, "one-core limits": limits, "cold miss": cold and cold["samples"]},
                          f, indent=1)
        elif cold:
            print("cold-miss samples:", json.dumps(cold["samples"]))
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def median(rows, key):
    vals = [r.get(key) for r in rows if r.get(key) is not None and "error" not in r]
    return statistics.median(vals) if vals else None


def spread_of(vals):
    """' ±N%': half the spread of `vals` relative to their median ('' for one value)."""
    if len(vals) < 2:
        return ""
    return f" ±{(max(vals) - min(vals)) / 2 / (statistics.median(vals) or 1) * 100:.0f}%"


def spread(rows, key):
    return spread_of([r.get(key) for r in rows if r.get(key) is not None and "error" not in r])


def render(results, args, size):
    lines = ["# Benchmark results", "",
             f"Date: {datetime.date.today()}  ", f"Machine: {platform.processor() or platform.machine()}, "
             f"{CORES} cores, {platform.platform()}  ",
             f"Command: `bench/compare.sh{' --short' if args.short else ''}` "
             f"({args.rounds} rounds x {args.seconds:g} s per workload, interleaved; servers pinned to core 0, "
             "wharf-bench to core 1; medians, ± half the spread)", "",
             "| workload | server | req/s | GB/s | server CPU s/GB | vs nginx (thr.) | vs nginx (CPU/GB) | vs registry (thr.) | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for label, by in results.items():
        base = {w: (median(by[w], "requests_per_second"), median(by[w], "gigabytes_per_second"),
                    median(by[w], "server_cpu_per_gb")) for w in by}
        for who, rows in by.items():
            rps, gbps, cpu = base[who]
            thr_key = 1 if (gbps or 0) > 0.05 else 0

            def ratio(other, idx):
                if other not in base or base[other][idx] in (None, 0) or base[who][idx] is None:
                    return "-"
                return f"{base[who][idx] / base[other][idx]:.2f}x"
            errors = sum(sum(r.get("errors", {}).values()) for r in rows if isinstance(r.get("errors"), dict))
            lines.append(f"| {label} | {who}{' (errors: %d)' % errors if errors else ''} | "
                         f"{rps or 0:,.0f}{spread(rows, 'requests_per_second')} | {gbps or 0:.3f} | "
                         f"{cpu if cpu is None else round(cpu, 3)} | {ratio('nginx', thr_key)} | "
                         f"{ratio('nginx', 2)} | {ratio('registry', thr_key)} | "
                         f"{max(r.get('server_peak_rss_mb') or 0 for r in rows):.1f} |")
    lines += ["", "Peak RSS is the server's VmHWM during that workload (reset before each run; "
              "the maximum over the rounds).", ""]
    return "\n".join(lines) + "\n"


def render_tools(results, tools):
    """wharf-bench's own CPU per GB next to wrk's, both against nginx."""
    if not tools:
        return ""
    lines = ["## Load tools", "",
             "The client's own CPU per GB received (utime+stime, on core 1), wharf-bench and wrk "
             "(`wrk -t1 -cN`) getting the same blob from nginx in the same rounds. wharf-bench discards "
             "bodies with `recv(MSG_TRUNC)` unless `--verify` is on.", "",
             "| workload | wharf-bench GB/s | wrk GB/s | wharf-bench CPU s/GB | wrk CPU s/GB |", "|---|---|---|---|---|"]
    for label, rows in tools.items():
        ours = results.get(label, {}).get("nginx", [])
        lines.append(f"| {label}, from nginx | {median(ours, 'gigabytes_per_second') or 0:.3f} | "
                     f"{median(rows, 'gigabytes_per_second') or 0:.3f} | "
                     f"{median(ours, 'client_cpu_seconds_per_gb') or 0:.3f} | "
                     f"{median(rows, 'client_cpu_seconds_per_gb') or 0:.3f} |")
    return "\n".join(lines) + "\n\n"


def render_limits(results, limits):
    """The push rows as ratios to what one core can do with nothing written."""
    pushes = [(label, by["wharf"]) for label, by in results.items() if label.startswith("push") and "wharf" in by]
    limits = [lim for lim in limits if "sha256" in lim and "receive_hash" in lim]
    if not pushes or not limits:
        return ""
    sha = statistics.median(lim["sha256"] for lim in limits)
    floor = statistics.median(lim["receive_hash"] for lim in limits)
    lines = ["## Push against the one-core limits", "",
             "Measured in the same run on the servers' core (`micro_bench`, once per round): SHA-256 of "
             f"data in cache, {sha:.2f} GB/s{spread_of([lim['sha256'] for lim in limits])}; receiving over "
             f"loopback TCP in 256 KiB reads and hashing, nothing written, {floor:.2f} GB/s"
             f"{spread_of([lim['receive_hash'] for lim in limits])} ({floor / sha:.2f}x SHA-256). "
             "A push also has to put every byte in a file; with a second core (rows 'server on cores 0-1') "
             "Wharf hashes beside receiving and writing.", "",
             "| workload | wharf GB/s | vs SHA-256 | vs receive+hash |", "|---|---|---|---|"]
    for label, rows in pushes:
        gbps = median(rows, "gigabytes_per_second") or 0
        lines.append(f"| {label} | {gbps:.3f} | {gbps / sha:.2f}x | {gbps / floor:.2f}x |")
    return "\n".join(lines) + "\n\n"


def render_cold(c):
    d = c["direct"]
    size = c["blob_size"]

    def cell(r, key, scale, unit, digits):
        if not r[key]:
            return "-"
        med, spr = r[key]
        text = f"{med * scale:.{digits}f} {unit}{spr}"
        if r is not d and d[key] and d[key][0]:  # a short run's direct CPU can be under one clock tick
            text += f" ({med / d[key][0]:.2f}x)"
        return text

    lines = ["## Pull-through, cold miss", "",
             f"One {size >> 20} MiB blob that the proxy has never seen; the reference registry "
             "(plain, its access log counting bytes) is the upstream. Every proxied measurement starts "
             "a fresh, empty proxy; medians of the rounds (± half the spread), ratios to the direct pull. "
             f"TTFB: the one-client pull plus {TTFB_EXTRA} more samples per round, each the first "
             "request to a fresh proxy, for a cold 1 MiB blob (the direct ones: as many GETs of it). "
             f"TTFB, running proxy: one fresh proxy per round, warmed up by one cold miss, then asked for "
             f"{TTFB_RUNNING} more cold 1 MiB blobs, each beside a direct GET of the same blob (alternating "
             "which goes first), all from one curl that keeps its connections as docker does (so the direct "
             "GETs, like the proxy's, reach the upstream on a kept-alive connection); this is the cold miss "
             "that a mirror in service sees. "
             f"TTFB, upstream on core 1: {TTFB_EXTRA} more fresh-proxy samples per round from a second "
             "upstream serving the same files on the clients' core, as a remote mirror has its own CPU "
             "(it then never competes with the proxy for a core; curl, beside it, idles while it waits). "
             "Upstream and proxy share core 0, the clients run on core 1, so a one-client pull cannot "
             "take less time than the CPU that the upstream and the proxy spend for it (utime+stime of "
             "both during the pull). The last row runs the proxy on both cores (the upstream stays on "
             "core 0): what a spare core gives.", "",
             "| | TTFB, 1 client | TTFB, running proxy | TTFB, upstream on core 1 | total, 1 client | "
             "upstream + proxy CPU, 1 client | wall, 8 concurrent clients | "
             "upstream bytes for 8 clients (most in a round) | proxy peak RSS |",
             "|---|---|---|---|---|---|---|---|---|"]
    for who, name in (("direct", "direct from the upstream"), ("wharf", "wharf proxy"),
                      ("registry", "registry proxy"), ("wharf_both", "wharf proxy on cores 0-1")):
        if who not in c:
            continue
        r = c[who]
        ub = f"{(r['upstream_bytes'] or 0) / size:.2f}x the blob" if who != "direct" else "-"
        rss = f"{r['rss_mb']} MB" if who != "direct" else "-"
        lines.append(f"| {name} | {cell(r, 'ttfb', 1000, 'ms', 1)} | {cell(r, 'ttfb_running', 1000, 'ms', 1)} | "
                     f"{cell(r, 'ttfb_far', 1000, 'ms', 1)} | "
                     f"{cell(r, 'total1', 1000, 'ms', 0)} | "
                     f"{cell(r, 'core0_cpu', 1000, 'ms', 0)} | {cell(r, 'wall8', 1000, 'ms', 0)} | {ub} | {rss} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
