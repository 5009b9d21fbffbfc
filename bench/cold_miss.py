"""The pull-through cold-miss workloads of the comparison suite (see
compare.py): time to first byte, one client's and eight clients' pulls of a
blob that the proxy has never seen, and the bytes the upstream sent."""
import json
import os
import statistics
import subprocess
import tempfile
import time

from harness import BOTH_CORES, CORES, evict_written, pinned, registry_on_free_port, spread_of, start_proxy


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
    up_log_path = os.path.join(tmp, "upstream.log")
    up_log = open(up_log_path, "w")
    upstream, up_port = registry_on_free_port("upstream", os.path.join(tmp, "upstream.yml"), reg_root, up_log,
                                              accesslog=True)
    up_url = f"http://127.0.0.1:{up_port}"
    # The same registry files served by a second upstream on the clients'
    # core, as a remote mirror has its own CPU: for TTFB samples, where the
    # proxy then has core 0 to itself and curl idles beside the upstream.
    far, far_url = None, None
    if CORES >= 2:
        far, far_port = registry_on_free_port("upstream-far", os.path.join(tmp, "upstream-far.yml"), reg_root,
                                              log, cores=1)
        far_url = f"http://127.0.0.1:{far_port}"
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
