"""Reproduces, without Wharf, why the running-proxy TTFB of compare.py takes its
direct samples on a kept-alive connection (bench/RESULTS.md, session 9).

The reference registry (Debian's docker-registry) runs alone on core 1; one
client on core 0 holds a kept-alive connection, as a proxy's pooled upstream
connection does, and asks for 1 MiB blobs in pairs (both requests of a pair
ask for the same blob, which no one asked for before), alternating which goes
first. The other request of each pair is either a one-shot connection
(connect, GET, close: what `curl URL` does) or a second kept-alive one. It
prints the time to the first response byte of the kept-alive connection's
requests by position in the pair.

  python3 bench/upstream_keepalive.py --bench build/bench/wharf-bench [--pairs 60] [--pause 0.005]
"""
import argparse
import os
import shutil
import socket
import statistics
import tempfile
import time

import harness


def get(conn, path):
    """One GET on `conn`; returns ms to the first response byte (body drained)."""
    start = time.perf_counter()
    conn.sendall(f"GET {path} HTTP/1.1\r\nHost: upstream\r\n\r\n".encode())
    first = conn.recv(1 << 16)
    ttfb = (time.perf_counter() - start) * 1e3
    head, _, body = first.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    got = len(body)
    while got < length:
        got += len(conn.recv(1 << 20))
    return ttfb


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", default=os.path.join(harness.ROOT, "build", "bench", "wharf-bench"))
    ap.add_argument("--pairs", type=int, default=60)
    ap.add_argument("--pause", type=float, default=0.005, help="seconds after each request")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="wharf-keepalive-")
    log = open(os.path.join(tmp, "upstream.log"), "w")
    upstream, port = harness.registry_on_free_port("upstream", os.path.join(tmp, "upstream.yml"),
                                                   os.path.join(tmp, "registry"), log, cores=1)
    try:
        # One cold blob per pair: both requests of a pair GET it.
        layers = harness.seed_image(args, f"http://127.0.0.1:{port}", 2 * args.pairs, 1 << 20, "ka/blobs", 5)
        paths = [f"/v2/ka/blobs0/blobs/{layer['digest']}" for layer in layers["layers"]]
        os.sched_setaffinity(0, {0})

        def connect():
            c = socket.create_connection(("127.0.0.1", port))
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return c

        def one_shot(path):
            with connect() as c:
                return get(c, path)

        # Both kept-alive connections are open and used once before the pairs.
        kept, other = connect(), connect()
        get(kept, "/v2/")
        get(other, "/v2/")
        ttfb = {}  # (partner, position of the kept-alive request) -> [ms]
        for partner, ask_partner in (("one-shot", one_shot), ("kept-alive", lambda p: get(other, p))):
            for i in range(args.pairs):
                path = paths.pop()
                kept_first = i % 2 == 1
                # A pause after each request, as between two curl runs.
                if not kept_first:
                    ask_partner(path)
                    time.sleep(args.pause)
                took = get(kept, path)
                time.sleep(args.pause)
                if kept_first:
                    ask_partner(path)
                    time.sleep(args.pause)
                ttfb.setdefault((partner, "first" if kept_first else "second"), []).append(took)
        print("TTFB of the kept-alive connection's GETs (median, 25th-75th percentile):")
        for (partner, position), vals in sorted(ttfb.items()):
            q = statistics.quantiles(vals, n=4, method="inclusive")
            print(f"  partner {partner:10s}, asked {position:6s}: {statistics.median(vals):.2f} ms "
                  f"({q[0]:.2f}-{q[2]:.2f}, n={len(vals)})")
    finally:
        upstream.stop()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
