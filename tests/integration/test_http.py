"""HTTP/1.1 server behaviour of the real binary: endpoints, keep-alive,
pipelining, limits, timeouts, shutdown and metrics."""
import json
import re
import signal
import socket
import subprocess
import time

from conftest import WHARF_BIN, Conn, curl, free_port, read_response


def test_base_endpoint(wharf):
    r = curl("-i", wharf.url + "/v2/")
    out = r.stdout.decode()
    assert out.startswith("HTTP/1.1 200")
    assert "Docker-Distribution-API-Version: registry/2.0" in out
    assert out.endswith("{}")


def test_head_has_length_but_no_body(wharf):
    s = wharf.connect()
    s.sendall(b"HEAD /v2/ HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    st, h, _ = read_response(s, head_only=True)
    assert st == 200 and h["content-length"] == "2"
    # The next bytes must be the second response, not a HEAD body.
    st, h, body = read_response(s)
    assert st == 200 and body == b"ok\n"


def test_healthz_and_unknown_route(wharf):
    assert curl(wharf.url + "/healthz").stdout == b"ok\n"
    r = curl("-i", wharf.url + "/nope/at/all")
    out = r.stdout.decode()
    assert out.startswith("HTTP/1.1 404")
    body = json.loads(out.split("\r\n\r\n", 1)[1])
    assert body["errors"][0]["code"] == "NOT_FOUND"


def test_method_not_allowed(wharf):
    out = curl("-i", "-X", "DELETE", wharf.url + "/v2/").stdout.decode()
    assert out.startswith("HTTP/1.1 405")
    assert "Allow: GET, HEAD" in out
    assert json.loads(out.split("\r\n\r\n", 1)[1])["errors"][0]["code"] == "UNSUPPORTED"


def test_keep_alive_reuses_one_connection(wharf):
    s = wharf.connect()
    for _ in range(20):
        s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        st, h, body = read_response(s)
        assert st == 200 and body == b"{}"
        assert h.get("connection") != "close"
    # curl reuses the connection for a second URL.
    r = curl("-v", wharf.url + "/v2/", wharf.url + "/healthz")
    assert b"Re-using existing connection" in r.stderr


def test_pipelined_requests_answered_in_order(wharf):
    s = wharf.connect()
    reqs = b"".join(
        b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p for p in [b"/v2/", b"/healthz", b"/nope"] * 10)
    s.sendall(reqs)
    statuses = [read_response(s)[0] for _ in range(30)]
    assert statuses == [200, 200, 404] * 10


def test_connection_close_is_honoured(wharf):
    s = wharf.connect()
    s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    st, h, _ = read_response(s)
    assert st == 200 and h["connection"] == "close"
    assert s.recv(10) == b""


def test_http10_closes_by_default(wharf):
    s = wharf.connect()
    s.sendall(b"GET /v2/ HTTP/1.0\r\n\r\n")
    st, h, _ = read_response(s)
    assert st == 200
    assert s.recv(10) == b""


def test_malformed_request_gets_400_and_close(wharf):
    s = wharf.connect()
    s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
    st, h, body = read_response(s)
    assert st == 400
    assert json.loads(body)["errors"][0]["code"] == "BAD_REQUEST"
    assert h["connection"] == "close"


def test_long_request_line_is_414(make_wharf):
    w = make_wharf(env={"WHARF_HTTP_LIMITS_MAX_REQUEST_LINE": "1024"}).start()
    out = curl("-i", w.url + "/v2/" + "a" * 2000).stdout.decode()
    assert out.startswith("HTTP/1.1 414")
    assert '"code":"URI_TOO_LONG"' in out


def test_too_many_or_too_large_headers_is_431(make_wharf):
    w = make_wharf(env={"WHARF_HTTP_LIMITS_MAX_HEADERS": "10",
                        "WHARF_HTTP_LIMITS_MAX_HEADER_BYTES": "2048"}).start()
    args = []
    for i in range(12):
        args += ["-H", f"X-H{i}: v"]
    assert curl("-i", *args, w.url + "/v2/").stdout.startswith(b"HTTP/1.1 431")
    assert curl("-i", "-H", "X-Big: " + "b" * 4000, w.url + "/v2/").stdout.startswith(
        b"HTTP/1.1 431")
    # The server is still fine afterwards.
    assert curl(w.url + "/healthz").stdout == b"ok\n"


def test_slowloris_head_times_out_with_408(make_wharf):
    w = make_wharf(env={"WHARF_HTTP_LIMITS_HEADER_TIMEOUT_SECONDS": "1"}).start()
    s = w.connect()
    s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n")
    t0 = time.time()
    for _ in range(4):  # trickle, but never finish the head
        time.sleep(0.3)
        try:
            s.sendall(b"X-A: b\r\n")
        except OSError:
            break
    st, h, body = read_response(s)
    assert st == 408
    assert 0.8 < time.time() - t0 < 5
    assert json.loads(body)["errors"][0]["code"] == "REQUEST_TIMEOUT"


def test_idle_connection_is_closed(make_wharf):
    w = make_wharf(env={"WHARF_HTTP_LIMITS_IDLE_TIMEOUT_SECONDS": "1"}).start()
    s = w.connect()
    s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(s)[0] == 200
    t0 = time.time()
    assert s.recv(10) == b""  # closed by the server
    assert 0.8 < time.time() - t0 < 5


def test_connection_limit_refuses_cleanly(make_wharf):
    w = make_wharf(env={"WHARF_HTTP_LIMITS_MAX_CONNECTIONS": "5"}).start()
    held = []
    for _ in range(5):
        s = w.connect()
        s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(s)[0] == 200
        held.append(s)
    extra = w.connect()
    st, h, body = read_response(extra)
    assert st == 503
    assert json.loads(body)["errors"][0]["code"] == "UNAVAILABLE"
    # Freeing one slot lets a new client in.
    held.pop().close()
    time.sleep(0.2)
    assert curl(w.url + "/healthz").stdout == b"ok\n"
    metrics = curl(w.url + "/metrics").stdout.decode()
    assert re.search(r"^wharf_http_connections_refused_total [1-9]", metrics, re.M)


def test_graceful_shutdown_finishes_in_flight_request(make_wharf):
    w = make_wharf().start()
    s = w.connect()
    s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n")  # head not finished: in flight
    time.sleep(0.2)
    w.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    # New connections are no longer accepted...
    try:
        c = socket.create_connection(("127.0.0.1", w.port), timeout=2)
        c.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        refused = c.recv(10) == b""
    except OSError:
        refused = True
    assert refused
    assert w.proc.poll() is None  # ...but the server waits for the request in flight
    s.sendall(b"\r\n")
    st, h, body = read_response(s)
    assert st == 200 and body == b"{}"
    assert h["connection"] == "close"
    assert w.proc.wait(10) == 0
    assert "draining" in w.stderr()


def test_shutdown_grace_period_is_bounded(make_wharf):
    w = make_wharf(env={"WHARF_HTTP_SHUTDOWN_GRACE_SECONDS": "1"}).start()
    s = w.connect()
    s.sendall(b"GET /v2/ HTTP/1.1\r\n")  # never completed
    t0 = time.time()
    w.proc.send_signal(signal.SIGINT)
    assert w.proc.wait(10) == 0
    assert time.time() - t0 < 5


def test_metrics_count_requests(wharf):
    for _ in range(7):
        curl(wharf.url + "/v2/")
    for _ in range(3):
        curl(wharf.url + "/missing")
    curl("-I", wharf.url + "/v2/")
    m = curl(wharf.url + "/metrics").stdout.decode()
    assert 'wharf_http_requests_total{route="base",method="GET",status="200"} 7' in m
    assert 'wharf_http_requests_total{route="base",method="HEAD",status="200"} 1' in m
    assert 'wharf_http_requests_total{route="other",method="GET",status="404"} 3' in m
    assert re.search(r'wharf_http_request_duration_seconds_count\{route="base"\} 8$', m, re.M)
    assert re.search(r"^wharf_http_open_connections 1$", m, re.M)  # the scrape itself
    sent = int(re.search(r"^wharf_http_sent_bytes_total (\d+)$", m, re.M).group(1))
    assert sent > 11 * 100


def test_access_log_text_and_json(make_wharf):
    w = make_wharf().start()
    curl(w.url + "/v2/")
    w.stop()
    line = [l for l in w.stdout().splitlines() if " /v2/ " in l][0]
    assert re.search(r"127\.0\.0\.1:\d+ GET /v2/ 200 \d+ [\d.]+ms req=[0-9a-f]{20}$", line), line

    j = make_wharf(env={"WHARF_HTTP_ACCESS_LOG": "json"}).start()
    curl(j.url + "/nope?x=1")
    j.stop()
    recs = [json.loads(l) for l in j.stdout().splitlines() if l.startswith("{")]
    rec = [r for r in recs if r["path"] == "/nope?x=1"][0]
    assert rec["method"] == "GET" and rec["status"] == 404 and rec["bytes"] > 0
    assert rec["client"].startswith("127.0.0.1:") and rec["duration_ms"] >= 0
    assert re.fullmatch(r"[0-9a-f]{20}", rec["request_id"])


def test_request_id_in_header_and_logs(make_wharf):
    w = make_wharf(env={"WHARF_HTTP_ACCESS_LOG": "json", "WHARF_LOG_LEVEL": "debug"}).start()
    h = curl("-sI", w.url + "/v2/nope/manifests/x").stdout.decode()
    rid = re.search(r"^X-Request-Id: ([0-9a-f]{20})\r$", h, re.M).group(1)
    h2 = curl("-sI", w.url + "/v2/nope/manifests/x").stdout.decode()
    assert re.search(r"^X-Request-Id: ([0-9a-f]{20})\r$", h2, re.M).group(1) != rid
    # A sane id from a front proxy is kept; anything else is replaced.
    h = curl("-sI", "-H", "X-Request-Id: edge-42.a_b", w.url + "/v2/").stdout.decode()
    assert "\r\nX-Request-Id: edge-42.a_b\r\n" in h
    h = curl("-sI", "-H", "X-Request-Id: bad id;" + "x" * 50, w.url + "/v2/").stdout.decode()
    assert re.search(r"^X-Request-Id: [0-9a-f]{20}\r$", h, re.M)
    # Errors that never reach a handler get one too.
    c = Conn(w.connect())
    c.sendall(b"GARBAGE / HTTP/1.1\r\n\r\n")
    status, headers, _ = c.response()
    assert status == 400 and re.fullmatch(r"[0-9a-f]{20}", headers["x-request-id"])
    w.stop()
    recs = [json.loads(l) for l in w.stdout().splitlines() if l.startswith("{")]
    assert rid in [r["request_id"] for r in recs]
    assert "edge-42.a_b" in [r["request_id"] for r in recs]


def test_check_config_prints_and_masks(tmp_path):
    env = {"REGISTRY_PROXY_PASSWORD": "hunter2", "REGISTRY_STORAGE_DELETE_ENABLED": "yes",
           "REGISTRY_PROXY_TTL": "72h", "PATH": "/usr/bin:/bin"}
    r = subprocess.run([WHARF_BIN, "check-config"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    cfg = json.loads(r.stdout)
    assert cfg["storage"]["delete_enabled"] is True
    assert cfg["proxy"]["cache_max_idle"] == "259200s"
    assert cfg["proxy"]["password"] == "********"
    assert "hunter2" not in r.stdout


def test_registry_variables_wharf_ignores_are_named(make_wharf):
    """A compose file written for registry:2: what Wharf ignores is said, at
    check-config and in the log at start, with what to use instead."""
    env = {"REGISTRY_HTTP_SECRET": "x", "REGISTRY_HTTP_HOST": "https://r.example", "REGISTRY_HTTP_DEBUG_ADDR": ":5001"}
    r = subprocess.run([WHARF_BIN, "check-config"], env={"PATH": "/usr/bin:/bin", **env},
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [
        "wharf: warning: REGISTRY_HTTP_DEBUG_ADDR is ignored: /metrics is served on the main port (http.addr)",
        "wharf: warning: REGISTRY_HTTP_HOST is ignored: Location headers are relative, and clients resolve "
        "them against the URL they used"]
    w = make_wharf(env=env).start()
    log = w.stderr() + w.stdout()
    assert "REGISTRY_HTTP_HOST is ignored" in log and "REGISTRY_HTTP_DEBUG_ADDR is ignored" in log
    assert "REGISTRY_HTTP_SECRET" not in log  # needless here: upload state is kept server-side


def test_bad_config_exits_2_with_one_line(tmp_path):
    cases = [
        ({"WHARF_WORKERS": "many"}, None, "WHARF_WORKERS: 'many' is not a non-negative integer"),
        ({}, '{"http": {"adr": ":5000"}}', "http.adr: unknown key"),
        ({}, '{"http": {"workers": "2"}}', "http.workers: expected a non-negative integer"),
        ({"REGISTRY_HTTP_TLS_CERTIFICATE": "/missing.crt", "REGISTRY_HTTP_TLS_KEY": "/missing.key"},
         None, "http.tls.certificate: cannot read '/missing.crt'"),
        ({"HTTPS_PROXY": "socks5://127.0.0.1:1080"}, None,
         "proxy.https_proxy (or HTTPS_PROXY): socks5: only http:// proxies are supported"),
        ({"REGISTRY_STORAGE": "s3", "REGISTRY_STORAGE_S3_BUCKET": "images"}, None,
         "s3 storage is not supported: Wharf stores on the local filesystem (storage.root)"),
    ]
    for env, cfg, want in cases:
        args = [WHARF_BIN, "check-config"]
        if cfg:
            p = tmp_path / "c.json"
            p.write_text(cfg)
            args += ["--config", str(p)]
        r = subprocess.run(args, env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True)
        assert r.returncode == 2, (env, cfg, r.stdout)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and want in lines[0], r.stderr


def test_port_in_use_exits_2(make_wharf):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    w = make_wharf(env={"REGISTRY_HTTP_ADDR": f"127.0.0.1:{port}"})
    w.proc = subprocess.Popen(w.args, env=w.env, stdout=w.out, stderr=w.err)
    assert w.proc.wait(20) == 2
    assert f"http.addr: 127.0.0.1:{port}: address already in use" in w.stderr()


def test_second_instance_cannot_share_the_port(make_wharf):
    a = make_wharf().start()
    b = make_wharf(env={"REGISTRY_HTTP_ADDR": f"127.0.0.1:{a.port}"})
    b.proc = subprocess.Popen(b.args, env=b.env, stdout=b.out, stderr=b.err)
    assert b.proc.wait(20) == 2
    assert "address already in use" in b.stderr()


def test_version_lists_libraries():
    out = subprocess.run([WHARF_BIN, "version"], capture_output=True, text=True).stdout
    for lib in ["wharf", "libuv", "llhttp", "RocksDB", "xxHash", "nlohmann_json", "libxcrypt"]:
        assert lib in out
    assert "BoringSSL" in out or "OpenSSL" in out


def test_usage_errors_exit_2():
    assert subprocess.run([WHARF_BIN], capture_output=True).returncode == 2
    assert subprocess.run([WHARF_BIN, "bogus"], capture_output=True).returncode == 2
    assert subprocess.run([WHARF_BIN, "serve", "--nope"], capture_output=True).returncode == 2


def test_container_default_config_yml_is_clean():
    """conf/config.yml, which the container image starts with, loads without
    a warning and stores where the image's volume is."""
    import os
    conf = os.path.join(os.path.dirname(__file__), "..", "..", "conf", "config.yml")
    r = subprocess.run([WHARF_BIN, "check-config", "--config", conf],
                       env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    cfg = json.loads(r.stdout)
    assert cfg["storage"]["root"] == "/var/lib/registry" and cfg["http"]["addr"] == ":5000"
    assert cfg["http"]["headers"] == {"X-Content-Type-Options": ["nosniff"]}


def test_example_config_is_valid_and_documents_every_key():
    import os
    conf = os.path.join(os.path.dirname(__file__), "..", "..", "conf", "wharf.json")
    r = subprocess.run([WHARF_BIN, "check-config", "--config", conf],
                       env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    text = open(conf).read()

    def keys(obj):
        for k, v in obj.items():
            yield k
            if isinstance(v, dict):
                yield from keys(v)
    for k in keys(json.loads(r.stdout)):
        assert '"%s"' % k in text, k
