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
import statistics
import subprocess
import tempfile
import urllib.request

from cold_miss import TTFB_RUNNING, cold_miss, render_cold
from harness import (BOTH_CORES, CORES, ROOT, Server, evict_written, free_port, pinned,
                     reference_registry, registry_config, seed_image, spread_of, start_proxy)

PROFILES_MARKER = "<!-- profiles: kept by compare.py -->"
ACCEPT = ("Accept: application/vnd.oci.image.manifest.v1+json, "
          "application/vnd.docker.distribution.manifest.v2+json")


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


def seed(args, url, size, tag):
    """Identical synthetic images (reproducible content) in a registry."""
    return {prefix: seed_image(args, url, layers, layer_size, prefix, 7)
            for prefix, layers, layer_size in [("bench/big", 1, size), ("bench/small", 1, 1 << 20),
                                               ("bench/five", 5, max(size // 16, 1 << 20))]}


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


if __name__ == "__main__":
    main()
