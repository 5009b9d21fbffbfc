"""The classic private-registry setup (self-signed TLS + bcrypt htpasswd via
REGISTRY_* variables), with real openssl, htpasswd, curl and skopeo."""
import base64
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time

import images
import tls_setup
from conftest import Conn, call, curl
from test_skopeo import check_dir_blobs, skopeo

USER, PASSWORD = "user_1", "password_1"


def classic(make_wharf, tmp_path, extra=None, start=True):
    certs = tmp_path / "certs"
    certs.mkdir(exist_ok=True)
    crt, key = tls_setup.self_signed(str(certs))
    pw = str(tmp_path / "passwd")
    tls_setup.htpasswd(pw, USER, PASSWORD)
    env = {
        "REGISTRY_HTTP_TLS_CERTIFICATE": crt,
        "REGISTRY_HTTP_TLS_KEY": key,
        "REGISTRY_AUTH": "htpasswd",
        "REGISTRY_AUTH_HTPASSWD_PATH": pw,
        "REGISTRY_AUTH_HTPASSWD_REALM": "Registry Realm",
        "REGISTRY_STORAGE_DELETE_ENABLED": "yes",
    }
    env.update(extra or {})
    w = make_wharf(env=env)
    w.crt, w.key, w.passwd = crt, key, pw
    w.certdir = tls_setup.cert_dir(str(tmp_path / "certdir"), crt)
    w.https = f"https://127.0.0.1:{w.port}"
    if start:
        start_tls(w)
    return w


def start_tls(w, *curl_args):
    w.proc = subprocess.Popen(w.args, env=w.env, stdout=w.out, stderr=w.err)
    deadline = time.time() + 20
    while time.time() < deadline:
        r = subprocess.run(["curl", "-s", "--cacert", w.crt, *curl_args, "-o", "/dev/null", "-w", "%{http_code}",
                            w.https + "/healthz"], capture_output=True, text=True)
        if r.stdout == "200":
            return w
        assert w.proc.poll() is None, w.stderr()
        time.sleep(0.05)
    raise RuntimeError("wharf (TLS) did not start: " + w.stderr())


def tcurl(w, *args):
    return curl("--cacert", w.crt, *args)


def status(w, *args):
    return tcurl(w, "-s", "-o", "/dev/null", "-w", "%{http_code}", *args).stdout.decode()


def push_and_pull(w, tmp_path):
    """skopeo push with --creds and a cert dir, pull back, compare blobs."""
    src = str(tmp_path / "src")
    _, blobs = images.single(src)
    dest = f"docker://127.0.0.1:{w.port}/team/app:v1"
    skopeo("copy", "--dest-cert-dir", w.certdir, "--dest-creds", f"{USER}:{PASSWORD}",
           f"oci:{src}:v1", dest)
    out = str(tmp_path / "out")
    skopeo("copy", "--src-cert-dir", w.certdir, "--src-creds", f"{USER}:{PASSWORD}", dest, f"dir:{out}")
    assert check_dir_blobs(out) == set(blobs)
    return src, dest


def test_classic_setup_push_pull_with_skopeo(make_wharf, tmp_path):
    w = classic(make_wharf, tmp_path)
    src, dest = push_and_pull(w, tmp_path)
    assert "expire" not in w.stderr() + w.stdout()  # ten years left
    # Without credentials skopeo is refused.
    r = skopeo("inspect", "--cert-dir", w.certdir, dest, check=False)
    assert r.returncode != 0 and ("unauthorized" in r.stderr.lower() or "401" in r.stderr)
    # A wrong password too.
    r = skopeo("copy", "--dest-cert-dir", w.certdir, "--dest-creds", f"{USER}:nope",
               f"oci:{src}:v1", f"docker://127.0.0.1:{w.port}/team/other:v1", check=False)
    assert r.returncode != 0


def test_classic_setup_from_the_reference_registry_config_yml(make_wharf, tmp_path):
    """The config.yml of Debian's docker-registry package, with its paths
    pointed here and a tls section added as the blog posts add it, given to
    `wharf serve --config` unchanged otherwise."""
    with open("/etc/docker/registry/config.yml") as f:
        text = f.read()
    crt, key = tls_setup.self_signed(str(tmp_path))
    pw = str(tmp_path / "passwd")
    tls_setup.htpasswd(pw, USER, PASSWORD)
    w = make_wharf(args=["--config", str(tmp_path / "config.yml")])
    for old, new in (("rootdirectory: /var/lib/docker-registry", f"rootdirectory: {w.root}"),
                     ("path: /etc/docker/registry", f"path: {pw}"),
                     ("  addr: :5000\n", f"  addr: 127.0.0.1:{w.port}\n  tls:\n    certificate: {crt}\n"
                                       f"    key: {key}\n")):
        assert old in text, old
        text = text.replace(old, new)
    (tmp_path / "config.yml").write_text(text)
    del w.env["WHARF_STORAGE_ROOT"], w.env["REGISTRY_HTTP_ADDR"]  # all from the file
    w.crt, w.certdir, w.https = crt, tls_setup.cert_dir(str(tmp_path / "certdir"), crt), f"https://127.0.0.1:{w.port}"
    start_tls(w)
    _, dest = push_and_pull(w, tmp_path)
    assert status(w, w.https + "/v2/") == "401"  # auth: htpasswd
    head = tcurl(w, "-sI", "-u", f"{USER}:{PASSWORD}", w.https + "/v2/team/app/manifests/v1").stdout.decode()
    assert "X-Content-Type-Options: nosniff" in head  # http.headers
    digest = re.search(r"Docker-Content-Digest: (\S+)", head).group(1)
    assert status(w, "-u", f"{USER}:{PASSWORD}", "-X", "DELETE",
                  f"{w.https}/v2/team/app/manifests/{digest}") == "202"  # storage.delete.enabled
    assert os.path.isdir(os.path.join(w.root, "meta"))  # storage.filesystem.rootdirectory
    assert "key log.fields.service is ignored" in w.stderr()


def test_minimum_tls_version(make_wharf, tmp_path):
    """REGISTRY_HTTP_TLS_MINIMUMTLS=tls1.3, as a registry:2 hardened for an
    audit sets it: TLS 1.2 clients are refused, TLS 1.3 ones served; by
    default both are."""
    (tmp_path / "strict").mkdir()
    (tmp_path / "default").mkdir()
    strict = classic(make_wharf, tmp_path / "strict", extra={"REGISTRY_HTTP_TLS_MINIMUMTLS": "tls1.3"})
    plain = classic(make_wharf, tmp_path / "default")
    for w, tls12_ok in ((strict, False), (plain, True)):
        r = curl("--cacert", w.crt, "-s", "-o", "/dev/null", "-w", "%{http_code}", "--tls-max", "1.2",
                 w.https + "/healthz", check=False)
        assert (r.stdout.decode() == "200") == tls12_ok, (w.env.get("REGISTRY_HTTP_TLS_MINIMUMTLS"), r)
        if not tls12_ok:
            assert r.returncode == 35, r  # the handshake failed
        assert status(w, "--tlsv1.3", w.https + "/healthz") == "200"


def test_challenge_and_wrong_password(make_wharf, tmp_path):
    w = classic(make_wharf, tmp_path)
    r = tcurl(w, "-si", w.https + "/v2/").stdout.decode()
    assert r.startswith("HTTP/1.1 401")
    assert 'WWW-Authenticate: Basic realm="Registry Realm"' in r
    assert '"code":"UNAUTHORIZED"' in r
    assert status(w, "-u", f"{USER}:wrong", w.https + "/v2/") == "401"
    assert status(w, "-u", f"nobody:{PASSWORD}", w.https + "/v2/") == "401"
    assert status(w, "-u", f"{USER}:{PASSWORD}", w.https + "/v2/") == "200"


def test_response_headers_for_a_registry_web_ui(make_wharf, tmp_path):
    # The reference registry's http.headers, spelled as blog posts set them
    # for a web UI (docker-registry-ui and the like) on another origin.
    ui = "https://ui.example"
    w = classic(make_wharf, tmp_path, extra={
        "REGISTRY_HTTP_HEADERS_X-Content-Type-Options": "[nosniff]",
        "REGISTRY_HTTP_HEADERS_Access-Control-Allow-Origin": f"['{ui}']",
        "REGISTRY_HTTP_HEADERS_Access-Control-Allow-Credentials": "[true]",
        "REGISTRY_HTTP_HEADERS_Access-Control-Allow-Methods": "['HEAD', 'GET', 'OPTIONS', 'DELETE']",
        "REGISTRY_HTTP_HEADERS_Access-Control-Allow-Headers": "['Authorization', 'Accept']",
        "REGISTRY_HTTP_HEADERS_Access-Control-Expose-Headers": "['Docker-Content-Digest']"})
    _, dest = push_and_pull(w, tmp_path)

    def head(*args):
        out = tcurl(w, "-s", "-D", "-", "-o", "/dev/null", *args).stdout.decode()
        lines = out.split("\r\n")
        return lines[0], [ln for ln in lines[1:] if ln]

    # The browser's preflight carries no credentials and gets the CORS headers.
    status_line, hs = head("-X", "OPTIONS", "-H", f"Origin: {ui}", "-H", "Access-Control-Request-Method: DELETE",
                           "-H", "Access-Control-Request-Headers: authorization",
                           w.https + "/v2/team/app/manifests/v1")
    assert status_line.startswith("HTTP/1.1 204"), (status_line, hs)
    assert f"Access-Control-Allow-Origin: {ui}" in hs
    assert "Access-Control-Allow-Credentials: true" in hs
    assert "Access-Control-Allow-Methods: DELETE" in hs and "Access-Control-Allow-Headers: Authorization" in hs
    assert "Allow: GET, HEAD, PUT, DELETE, OPTIONS" in hs, hs
    # Every other answer carries them too: a 401, a manifest, a blob sent
    # with sendfile, an error.
    status_line, hs = head(w.https + "/v2/_catalog")
    assert status_line.startswith("HTTP/1.1 401") and f"Access-Control-Allow-Origin: {ui}" in hs
    auth = ["-u", f"{USER}:{PASSWORD}"]
    status_line, hs = head(*auth, "-H", "Accept: application/vnd.oci.image.manifest.v1+json",
                           w.https + "/v2/team/app/manifests/v1")
    assert status_line.startswith("HTTP/1.1 200") and "X-Content-Type-Options: nosniff" in hs
    assert "Access-Control-Expose-Headers: Docker-Content-Digest" in hs
    digest = [h for h in hs if h.lower().startswith("docker-content-digest")][0].split(": ")[1]
    manifest = json.loads(tcurl(w, "-s", *auth, "-H", "Accept: application/vnd.oci.image.manifest.v1+json",
                                f"{w.https}/v2/team/app/manifests/{digest}").stdout)
    layer = manifest["layers"][-1]["digest"]
    status_line, hs = head(*auth, f"{w.https}/v2/team/app/blobs/{layer}")
    assert status_line.startswith("HTTP/1.1 200") and f"Access-Control-Allow-Origin: {ui}" in hs
    status_line, hs = head(*auth, f"{w.https}/v2/team/app/manifests/nope")
    assert status_line.startswith("HTTP/1.1 404") and "X-Content-Type-Options: nosniff" in hs
    # An OPTIONS on a path that does not exist is still a 404.
    assert status(w, "-X", "OPTIONS", w.https + "/nothing/here") == "404"


def test_client_certificates(make_wharf, tmp_path):
    ca, cert, key = tls_setup.client_ca_and_cert(str(tmp_path / "clients"))
    _, other_cert, other_key = tls_setup.client_ca_and_cert(str(tmp_path / "strangers"), name="stranger")
    w = classic(make_wharf, tmp_path, extra={"REGISTRY_HTTP_TLS_CLIENTCAS": f"[{ca}]"}, start=False)
    start_tls(w, "--cert", cert, "--key", key)
    login = ["-u", f"{USER}:{PASSWORD}"]
    assert status(w, *login, "--cert", cert, "--key", key, w.https + "/v2/") == "200"
    # Without a certificate, or with one another CA issued, no handshake.
    for cert_args in ([], ["--cert", other_cert, "--key", other_key]):
        r = curl("--cacert", w.crt, *login, *cert_args, w.https + "/v2/", check=False)
        assert r.returncode != 0 and r.stdout == b"", r
    # The certificate is in addition to the login, not instead of it.
    assert status(w, "--cert", cert, "--key", key, w.https + "/v2/") == "401"
    # skopeo (and docker) find client.cert/client.key in the certificate directory.
    shutil.copy(cert, os.path.join(w.certdir, "client.cert"))
    shutil.copy(key, os.path.join(w.certdir, "client.key"))
    push_and_pull(w, tmp_path)


def test_tls_versions_and_untrusted_ca(make_wharf, tmp_path):
    w = classic(make_wharf, tmp_path)
    for v in (["--tlsv1.2", "--tls-max", "1.2"], ["--tlsv1.3"]):
        assert status(w, *v, "-u", f"{USER}:{PASSWORD}", w.https + "/v2/") == "200"
    r = subprocess.run(["curl", "-s", w.https + "/v2/"], capture_output=True)
    assert r.returncode == 60  # peer certificate cannot be authenticated with known CA certificates
    r = skopeo("inspect", "--creds", f"{USER}:{PASSWORD}",
               f"docker://127.0.0.1:{w.port}/team/app:v1", check=False)
    assert r.returncode != 0 and "certificate" in r.stderr.lower()
    # The server shrugs it off and keeps serving.
    assert status(w, "-u", f"{USER}:{PASSWORD}", w.https + "/v2/") == "200"
    assert "TLS handshake with 127.0.0.1" in w.stderr()


def test_plain_http_to_tls_port_gets_a_clear_400(make_wharf, tmp_path):
    w = classic(make_wharf, tmp_path)
    r = subprocess.run(["curl", "-s", f"http://127.0.0.1:{w.port}/v2/"], capture_output=True)
    assert b"this port speaks HTTPS" in r.stdout


def test_alpn_and_session_resumption(make_wharf, tmp_path):
    w = classic(make_wharf, tmp_path)
    ctx = ssl.create_default_context(cafile=w.crt)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # session IDs / tickets visible to Python
    with socket.create_connection(("127.0.0.1", w.port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            assert s.selected_alpn_protocol() == "http/1.1"
            sess = s.session
    with socket.create_connection(("127.0.0.1", w.port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=sess) as s:
            assert s.session_reused


def test_ecdsa_key(make_wharf, tmp_path):
    crt, key = tls_setup.ec_self_signed(str(tmp_path))
    w = make_wharf(env={"REGISTRY_HTTP_TLS_CERTIFICATE": crt, "REGISTRY_HTTP_TLS_KEY": key})
    w.crt, w.https = crt, f"https://127.0.0.1:{w.port}"
    start_tls(w)
    assert status(w, w.https + "/v2/") == "200"
    # A certificate for 30 days: the operator is told, before clients refuse it.
    assert re.search(rf"http.tls.certificate: '{re.escape(crt)}' expires in (29|30) days", w.stderr() + w.stdout())


def test_large_blob_over_tls(make_wharf, tmp_path):
    w = classic(make_wharf, tmp_path)
    data = os.urandom(20 << 20)
    f = tmp_path / "blob"
    f.write_bytes(data)
    d = images.sha256(data)
    creds = ["-u", f"{USER}:{PASSWORD}"]
    r = tcurl(w, *creds, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
              "--data-binary", f"@{f}", "-H", "Content-Type: application/octet-stream",
              f"{w.https}/v2/big/blobs/uploads/?digest={d}")
    assert r.stdout == b"201"
    got = tcurl(w, *creds, "-s", f"{w.https}/v2/big/blobs/{d}").stdout
    assert images.sha256(got) == d
    part = tcurl(w, *creds, "-s", "-H", "Range: bytes=1000000-1999999",
                 f"{w.https}/v2/big/blobs/{d}").stdout
    assert part == data[1000000:2000000]


def test_token_mode_with_skopeo(make_wharf, tmp_path):
    w = classic(make_wharf, tmp_path, extra={"WHARF_AUTH_TOKEN_ENABLED": "true"})
    r = tcurl(w, "-si", w.https + "/v2/team/app/manifests/v1").stdout.decode()
    assert r.startswith("HTTP/1.1 401")
    assert (f'WWW-Authenticate: Bearer realm="https://127.0.0.1:{w.port}/auth/token",'
            f'service="wharf",scope="repository:team/app:pull"') in r
    tok = json.loads(tcurl(w, "-s", "-u", f"{USER}:{PASSWORD}",
                           f"{w.https}/auth/token?service=wharf&scope=repository:team/app:pull,push").stdout)
    assert tok["token"] == tok["access_token"] and tok["expires_in"] == 300
    assert status(w, "-H", "Authorization: Bearer " + tok["token"], w.https + "/v2/") == "200"
    assert status(w, "-H", "Authorization: Bearer garbage", w.https + "/v2/") == "401"
    assert status(w, "-s", f"{w.https}/auth/token?scope=repository:x:pull") == "401"
    push_and_pull(w, tmp_path)
    # A pull-only token cannot push.
    ro = json.loads(tcurl(w, "-s", "-u", f"{USER}:{PASSWORD}",
                          f"{w.https}/auth/token?scope=repository:team/app:pull").stdout)["token"]
    assert status(w, "-X", "POST", "-H", "Authorization: Bearer " + ro,
                  f"{w.https}/v2/team/app/blobs/uploads/") == "401"


def test_token_service_takes_the_oauth2_password_form(make_wharf, tmp_path):
    """POST /auth/token with an OAuth2 form, as containerd sends it when it
    has credentials (the kubelet's imagePullSecrets): several scopes in one
    space-separated value; bad forms get a 400."""
    w = classic(make_wharf, tmp_path, extra={"WHARF_AUTH_TOKEN_ENABLED": "true"})

    def post(*form):
        args = ["-s", "-w", "\n%{http_code}", "-X", "POST", f"{w.https}/auth/token"]
        for f in form:
            args += ["--data-urlencode", f]
        out = tcurl(w, *args).stdout.decode()
        body, _, code = out.rpartition("\n")
        return code, json.loads(body) if body else None

    form = ("grant_type=password", f"username={USER}", f"password={PASSWORD}", "service=wharf",
            "client_id=containerd-client", "access_type=offline",
            "scope=repository:team/app:pull,push repository:other/app:pull")
    code, tok = post(*form)
    assert code == "200", tok
    assert tok["access_token"] and tok["expires_in"] == 300 and tok["issued_at"]
    assert tok["scope"] == "repository:team/app:pull,push repository:other/app:pull"
    assert tok["refresh_token"]  # access_type=offline
    push_and_pull(w, tmp_path)
    auth = "Authorization: Bearer " + tok["access_token"]
    assert status(w, "-H", auth, w.https + "/v2/team/app/manifests/v1") == "200"
    assert status(w, "-X", "POST", "-H", auth, w.https + "/v2/team/app/blobs/uploads/") == "202"
    # Only what was asked for: pull on other/app, nothing on a third name.
    assert status(w, "-X", "POST", "-H", auth, w.https + "/v2/other/app/blobs/uploads/") == "401"
    assert status(w, "-H", auth, w.https + "/v2/third/app/tags/list") == "401"
    # The GET form takes space-separated scopes too.
    both = json.loads(tcurl(w, "-s", "-u", f"{USER}:{PASSWORD}", "--get", "--data-urlencode",
                            "scope=repository:a/b:pull repository:c/d:pull", w.https + "/auth/token").stdout)
    assert both["scope"] == "repository:a/b:pull repository:c/d:pull"

    code, err = post("grant_type=password", f"username={USER}", "password=wrong", "service=wharf")
    assert code == "401" and err["errors"][0]["code"] == "UNAUTHORIZED"
    code, err = post("grant_type=authorization_code", "code=abc", "service=wharf")
    assert code == "400" and err["errors"][0]["code"] == "BAD_REQUEST"
    assert "password and refresh_token" in err["errors"][0]["message"]
    code, err = post("grant_type=password", f"password={PASSWORD}", "service=wharf")
    assert code == "400" and "username" in err["errors"][0]["message"]
    code, err = post("grant_type=password", f"username={USER}:x", f"password={PASSWORD}")
    assert code == "400"
    assert status(w, "-X", "POST", "--data", "grant_type=password&scope=" + "x" * 20000,
                  f"{w.https}/auth/token") == "413"
    # Without token mode there is no token service, whatever the method.
    (tmp_path / "plain").mkdir()
    plain = classic(make_wharf, tmp_path / "plain")
    assert status(plain, "-X", "POST", "--data", "grant_type=password", f"{plain.https}/auth/token") == "404"


def test_refresh_tokens_and_a_signing_key_that_outlives_restarts(make_wharf, tmp_path):
    """docker login asks for a refresh token (offline_token=true) and then
    stores it instead of the password; docker uses it with
    grant_type=refresh_token. Tokens are signed with the key in
    <root>/token.key, so they survive a restart and work on every instance
    that shares the key; a changed password ends the refresh token."""
    w = classic(make_wharf, tmp_path, extra={"WHARF_AUTH_TOKEN_ENABLED": "true"})
    push_and_pull(w, tmp_path)
    scope = "scope=repository:team/app:pull,push"
    login = f"{w.https}/auth/token?offline_token=true&client_id=docker&service=wharf&{scope}"
    got = json.loads(tcurl(w, "-s", "-u", f"{USER}:{PASSWORD}", login).stdout)
    refresh = got["refresh_token"]
    assert "refresh_token" not in json.loads(
        tcurl(w, "-s", "-u", f"{USER}:{PASSWORD}", f"{w.https}/auth/token?{scope}").stdout)
    anonymous = tcurl(w, "-s", f"{w.https}/auth/token?offline_token=true&{scope}").stdout
    assert b"refresh_token" not in anonymous

    def redeem(server, token, code="200"):
        out = tcurl(server, "-s", "-w", "\n%{http_code}", "-X", "POST", "--data-urlencode", "grant_type=refresh_token",
                    "--data-urlencode", f"refresh_token={token}", "--data-urlencode", "client_id=docker",
                    "--data-urlencode", "service=wharf", "--data-urlencode",
                    "scope=repository:team/app:pull", f"{server.https}/auth/token").stdout.decode()
        body, _, got_code = out.rpartition("\n")
        assert got_code == code, body
        return json.loads(body)

    access = redeem(w, refresh)
    assert access["scope"] == "repository:team/app:pull" and "refresh_token" not in access
    bearer = "Authorization: Bearer " + access["access_token"]
    assert status(w, "-H", bearer, w.https + "/v2/team/app/tags/list") == "200"
    # Neither kind of token passes for the other.
    assert status(w, "-H", "Authorization: Bearer " + refresh, w.https + "/v2/team/app/tags/list") == "401"
    assert "not a refresh token" in redeem(w, access["access_token"], "401")["errors"][0]["message"]
    assert redeem(w, refresh[:-2] + "xx", "401")["errors"][0]["code"] == "UNAUTHORIZED"
    # The password form gives one with access_type=offline.
    form = tcurl(w, "-s", "-X", "POST", "--data-urlencode", "grant_type=password", "--data-urlencode",
                 f"username={USER}", "--data-urlencode", f"password={PASSWORD}", "--data-urlencode",
                 "access_type=offline", f"{w.https}/auth/token").stdout
    assert json.loads(form)["refresh_token"]

    key = os.path.join(w.root, "token.key")
    assert os.stat(key).st_mode & 0o777 == 0o600 and len(open(key).read().strip()) == 64
    w.stop()
    start_tls(w)
    assert status(w, "-H", bearer, w.https + "/v2/team/app/tags/list") == "200"
    redeem(w, refresh)

    # A second instance with its own storage but the same key takes the
    # first one's tokens, as replicas behind one Service must.
    (tmp_path / "b").mkdir()
    b = classic(make_wharf, tmp_path / "b", extra={"WHARF_AUTH_TOKEN_ENABLED": "true",
                                                   "WHARF_AUTH_TOKEN_KEY_FILE": key})
    assert status(b, "-H", bearer, b.https + "/v2/") == "200"
    # ... which an instance with another key does not.
    (tmp_path / "c").mkdir()
    c = classic(make_wharf, tmp_path / "c", extra={"WHARF_AUTH_TOKEN_ENABLED": "true"})
    assert status(c, "-H", bearer, c.https + "/v2/") == "401"

    # A new password ends the login that the refresh token stands for.
    time.sleep(1.1)
    tls_setup.htpasswd(w.passwd, USER, "a new password", create=False)
    time.sleep(1.1)
    assert "log in again" in redeem(w, refresh, "401")["errors"][0]["message"]

    # A key file too short to be a key stops the start with the reason.
    (tmp_path / "d").mkdir()
    short = tmp_path / "short.key"
    short.write_text("0123456789\n")
    d = classic(make_wharf, tmp_path / "d", start=False,
                extra={"WHARF_AUTH_TOKEN_ENABLED": "true", "WHARF_AUTH_TOKEN_KEY_FILE": str(short)})
    rc = subprocess.run(d.args, env=d.env, capture_output=True, text=True, timeout=30)
    assert rc.returncode != 0 and "auth.token.key_file" in rc.stderr and "at least 32" in rc.stderr, rc.stderr
    # refresh_ttl_seconds 0: no refresh tokens at all.
    (tmp_path / "e").mkdir()
    e = classic(make_wharf, tmp_path / "e", extra={"WHARF_AUTH_TOKEN_ENABLED": "true",
                                                   "WHARF_AUTH_TOKEN_REFRESH_TTL_SECONDS": "0"})
    assert b"refresh_token" not in tcurl(e, "-s", "-u", f"{USER}:{PASSWORD}",
                                         f"{e.https}/auth/token?offline_token=true&{scope}").stdout


def test_behind_a_trusted_reverse_proxy(make_wharf, tmp_path):
    """Behind an ingress every request comes from the ingress's address.
    With http.trusted_proxies naming it, failed logins are counted per
    client (the nearest untrusted X-Forwarded-For address), so one client's
    typos do not lock everyone out, and token realms follow the scheme and
    host the client used (X-Forwarded-Proto/-Host); the access log names
    the client. From an untrusted peer these headers change nothing."""
    w = classic(make_wharf, tmp_path, extra={"WHARF_AUTH_TOKEN_ENABLED": "true",
                                             "WHARF_HTTP_TRUSTED_PROXIES": "[127.0.0.1]"})
    hdrs = tcurl(w, "-si", "-H", "X-Forwarded-Proto: https", "-H", "X-Forwarded-Host: registry.example",
                 w.https + "/v2/team/app/tags/list").stdout.decode()
    assert 'Bearer realm="https://registry.example/auth/token"' in hdrs, hdrs
    hdrs = tcurl(w, "-si", "-H", "X-Forwarded-Proto: http", w.https + "/v2/").stdout.decode()
    assert f'Bearer realm="http://127.0.0.1:{w.port}/auth/token"' in hdrs, hdrs

    def login(password, forwarded_for):
        return status(w, "-u", f"{USER}:{password}", "-H", f"X-Forwarded-For: {forwarded_for}", w.https + "/v2/")

    for _ in range(10):
        assert login("wrong", "203.0.113.9") == "401"
    assert login(PASSWORD, "203.0.113.9") == "429"
    assert login(PASSWORD, "198.51.100.7") == "200"  # another client behind the same ingress
    # What a client writes itself stays left of what the proxy appends.
    assert login(PASSWORD, "198.51.100.7, 203.0.113.9") == "429"
    assert login(PASSWORD, "203.0.113.9, 198.51.100.7") == "200"
    log = w.stdout()
    assert " 203.0.113.9 GET /v2/ 429 " in log and " 198.51.100.7 GET /v2/ 200 " in log, log
    assert re.search(r" 127\.0\.0\.1:\d+ GET /v2/team/app/tags/list 401 ", log), log  # no X-Forwarded-For

    (tmp_path / "plain").mkdir()
    u = classic(make_wharf, tmp_path / "plain", extra={"WHARF_AUTH_TOKEN_ENABLED": "true"})
    hdrs = tcurl(u, "-si", "-H", "X-Forwarded-Proto: http", "-H", "X-Forwarded-Host: evil.example",
                 u.https + "/v2/").stdout.decode()
    assert f'Bearer realm="https://127.0.0.1:{u.port}/auth/token"' in hdrs, hdrs
    for _ in range(10):
        status(u, "-u", f"{USER}:wrong", "-H", "X-Forwarded-For: 203.0.113.9", u.https + "/v2/")
    assert status(u, "-u", f"{USER}:{PASSWORD}", "-H", "X-Forwarded-For: 198.51.100.7", u.https + "/v2/") == "429"
    assert "198.51.100.7" not in u.stdout()


# Every route of the API, with a method that reads or writes.
def all_routes(d):
    return [
        ("GET", "/v2/"), ("GET", "/v2/_catalog"), ("GET", "/v2/team/app/tags/list"),
        ("GET", "/v2/team/app/manifests/v1"), ("HEAD", "/v2/team/app/manifests/v1"),
        ("PUT", "/v2/team/app/manifests/v2"), ("DELETE", "/v2/team/app/manifests/v1"),
        ("GET", f"/v2/team/app/blobs/{d}"), ("HEAD", f"/v2/team/app/blobs/{d}"),
        ("DELETE", f"/v2/team/app/blobs/{d}"), ("POST", "/v2/team/app/blobs/uploads/"),
        ("POST", f"/v2/team/app/blobs/uploads/?digest={d}"),
        ("POST", f"/v2/other/blobs/uploads/?mount={d}&from=team/app"),
        ("GET", "/v2/team/app/blobs/uploads/00000000-0000-4000-8000-000000000000"),
        ("PATCH", "/v2/team/app/blobs/uploads/00000000-0000-4000-8000-000000000000"),
        ("PUT", f"/v2/team/app/blobs/uploads/00000000-0000-4000-8000-000000000000?digest={d}"),
        ("DELETE", "/v2/team/app/blobs/uploads/00000000-0000-4000-8000-000000000000"),
        ("GET", f"/v2/team/app/referrers/{d}"),
    ]


def test_no_route_leaks_or_accepts_writes_without_credentials(make_wharf, tmp_path):
    w = classic(make_wharf, tmp_path)
    creds = ["-u", f"{USER}:{PASSWORD}"]
    d = images.sha256(b"secret layer")
    assert tcurl(w, *creds, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                 "--data-binary", "secret layer", "-H", "Content-Type: application/octet-stream",
                 f"{w.https}/v2/team/app/blobs/uploads/?digest={d}").stdout == b"201"
    before = tcurl(w, *creds, "-s", f"{w.https}/v2/_catalog").stdout
    for method, path in all_routes(d):
        args = ["-s", "-i", "-X", method, "--data-binary", "x",
                "-H", "Content-Type: application/octet-stream"]
        if method == "HEAD":
            args = ["-s", "-I"]
        out = tcurl(w, *args, w.https + path).stdout
        assert out.startswith(b"HTTP/1.1 401"), (method, path, out[:200])
        assert b"secret layer" not in out
        assert b"WWW-Authenticate: Basic" in out
    assert tcurl(w, *creds, "-s", f"{w.https}/v2/_catalog").stdout == before
    assert tcurl(w, *creds, "-s", f"{w.https}/v2/team/app/blobs/{d}").stdout == b"secret layer"
    # Operational endpoints stay open; the admin endpoint is not on TCP at all.
    assert status(w, w.https + "/healthz") == "200"
    assert status(w, "-X", "POST", w.https + "/admin/gc") == "404"


def test_credentials_never_logged(make_wharf, tmp_path):
    w = classic(make_wharf, tmp_path)
    status(w, "-u", f"{USER}:{PASSWORD}", w.https + "/v2/")
    status(w, "-u", f"{USER}:wrongpassword", w.https + "/v2/")
    w.stop()
    logs = w.stdout() + w.stderr()
    b64 = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    for secret in (PASSWORD, "wrongpassword", b64):
        assert secret not in logs


def test_failed_logins_are_rate_limited(make_wharf, tmp_path):
    """Per address and user: guessing one user's password is limited, while
    other users at the same address (a cluster's nodes behind one NAT, one of
    them with a bad imagePullSecret) go on; bad tokens are not counted."""
    w = classic(make_wharf, tmp_path, start=False)
    tls_setup.htpasswd(w.passwd, "other", "pw3", create=False)
    start_tls(w)
    for _ in range(20):
        assert status(w, "-H", "Authorization: Bearer forged.token", w.https + "/v2/") == "401"
    codes = [status(w, "-u", f"{USER}:bad{i}", w.https + "/v2/") for i in range(12)]
    assert codes[:10] == ["401"] * 10
    assert codes[-1] == "429"
    # Even the right password waits for the window to pass.
    assert status(w, "-u", f"{USER}:{PASSWORD}", w.https + "/v2/") == "429"
    assert status(w, "-u", "other:pw3", w.https + "/v2/") == "200"
    # One address trying many names is stopped after 100 failures in all.
    codes = [status(w, "-u", f"name{i}:x", w.https + "/v2/") for i in range(95)]
    assert codes[:90] == ["401"] * 90 and codes[-1] == "429"
    assert status(w, "-u", "other:pw3", w.https + "/v2/") == "429"


def test_anonymous_pull_authenticated_push_basic(make_wharf, tmp_path):
    # Basic mode: /v2/ answers anonymous clients, so docker and skopeo pull
    # without logging in; pushes need credentials sent up front (curl -u).
    w = classic(make_wharf, tmp_path, extra={"WHARF_AUTH_ANONYMOUS_PULL": "true"})
    creds = ["-u", f"{USER}:{PASSWORD}"]
    up = f"{w.https}/v2/mirror/img/blobs/uploads/"
    assert status(w, "-X", "POST", up) == "401"
    assert status(w, "-X", "POST", *creds, up) == "202"
    assert status(w, w.https + "/v2/") == "200"
    assert status(w, "-u", f"{USER}:wrong", w.https + "/v2/") == "401"
    src = str(tmp_path / "src")
    mdigest, _ = images.single(src)
    body = open(os.path.join(src, "blobs", "sha256", mdigest[7:]), "rb").read()
    # Push the image with curl, then pull it anonymously with skopeo.
    for blob in os.listdir(os.path.join(src, "blobs", "sha256")):
        path = os.path.join(src, "blobs", "sha256", blob)
        assert status(w, *creds, "-X", "POST", "--data-binary", f"@{path}",
                      "-H", "Content-Type: application/octet-stream",
                      f"{up}?digest=sha256:{blob}") == "201"
    assert status(w, *creds, "-X", "PUT", "--data-binary", "@" + os.path.join(
        src, "blobs", "sha256", mdigest[7:]), "-H", "Content-Type: " + images.OCI_MANIFEST,
        f"{w.https}/v2/mirror/img/manifests/v1") == "201"
    info = json.loads(skopeo("inspect", "--raw", "--cert-dir", w.certdir,
                             f"docker://127.0.0.1:{w.port}/mirror/img:v1").stdout)
    assert json.dumps(info, sort_keys=True) == json.dumps(json.loads(body), sort_keys=True)


def test_anonymous_pull_authenticated_push_token(make_wharf, tmp_path):
    # Token mode: the Docker Hub flow; skopeo pulls anonymously and pushes
    # with a login.
    w = classic(make_wharf, tmp_path, extra={"WHARF_AUTH_ANONYMOUS_PULL": "true",
                                             "WHARF_AUTH_TOKEN_ENABLED": "true"})
    src = str(tmp_path / "src")
    images.single(src)
    dest = f"docker://127.0.0.1:{w.port}/mirror/img:v1"
    r = skopeo("copy", "--dest-cert-dir", w.certdir, f"oci:{src}:v1", dest, check=False)
    assert r.returncode != 0  # anonymous push refused
    skopeo("copy", "--dest-cert-dir", w.certdir, "--dest-creds", f"{USER}:{PASSWORD}",
           f"oci:{src}:v1", dest)
    skopeo("inspect", "--cert-dir", w.certdir, dest)  # anonymous pull works


def test_prefix_rules(make_wharf, tmp_path):
    rules = json.dumps([{"user": "reader", "prefix": "", "access": "read"},
                        {"user": "reader", "prefix": "sandbox", "access": "write"}])
    w = classic(make_wharf, tmp_path, extra={"WHARF_AUTH_RULES": rules}, start=False)
    tls_setup.htpasswd(w.passwd, "reader", "pw", create=False)
    start_tls(w)
    up = ["-X", "POST", "-u", "reader:pw"]
    assert status(w, *up, f"{w.https}/v2/team/app/blobs/uploads/") == "403"
    assert status(w, *up, f"{w.https}/v2/sandbox/app/blobs/uploads/") == "202"
    assert status(w, *up, f"{w.https}/v2/sandboxed/app/blobs/uploads/") == "403"
    assert status(w, "-u", "reader:pw", f"{w.https}/v2/") == "200"
    # user_1 has no rule: default_access "write".
    assert status(w, "-X", "POST", "-u", f"{USER}:{PASSWORD}",
                  f"{w.https}/v2/team/app/blobs/uploads/") == "202"


def test_htpasswd_changes_are_picked_up(make_wharf, tmp_path):
    w = classic(make_wharf, tmp_path)
    assert status(w, "-u", "newbie:pw2", w.https + "/v2/") == "401"
    time.sleep(1.1)
    tls_setup.htpasswd(w.passwd, "newbie", "pw2", create=False)
    time.sleep(1.1)
    assert status(w, "-u", "newbie:pw2", w.https + "/v2/") == "200"  # by mtime
    tls_setup.htpasswd(w.passwd, "other", "pw3", create=False)
    w.proc.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    assert status(w, "-u", "other:pw3", w.https + "/v2/") == "200"


def test_sighup_reloads_certificate_without_dropping_connections(make_wharf, tmp_path):
    w = classic(make_wharf, tmp_path)
    auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    old_ctx = ssl.create_default_context(cafile=w.crt)
    raw = socket.create_connection(("127.0.0.1", w.port))
    old = Conn(old_ctx.wrap_socket(raw, server_hostname="127.0.0.1"))
    req = f"GET /v2/ HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\r\n".encode()
    old.sendall(req)
    assert old.response()[0] == 200
    # New certificate and key in place of the old files.
    newdir = tmp_path / "new"
    newdir.mkdir()
    crt2, key2 = tls_setup.self_signed(str(newdir), cn="second")
    os.replace(crt2, w.crt)
    os.replace(key2, w.key)
    w.proc.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    assert "TLS certificate and key reloaded" in w.stderr()
    # New connections see the new certificate...
    assert status(w, "-u", f"{USER}:{PASSWORD}", w.https + "/v2/") == "200"  # w.crt is new now
    with socket.create_connection(("127.0.0.1", w.port)) as r2:
        try:
            old_ctx.wrap_socket(r2, server_hostname="127.0.0.1")
            raise AssertionError("old CA still accepted")
        except ssl.SSLCertVerificationError:
            pass
    # ...while the old connection keeps working.
    old.sendall(req)
    assert old.response()[0] == 200


def test_plain_and_tls_listeners_together(make_wharf, tmp_path):
    plain_port = __import__("conftest").free_port()
    w = classic(make_wharf, tmp_path, extra={"WHARF_HTTP_PLAIN_ADDR": f"127.0.0.1:{plain_port}"})
    assert status(w, "-u", f"{USER}:{PASSWORD}", w.https + "/v2/") == "200"
    r = curl("-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", f"{USER}:{PASSWORD}",
             f"http://127.0.0.1:{plain_port}/v2/")
    assert r.stdout == b"200"


def test_gen_certs_script(make_wharf, tmp_path):
    script = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "gen-certs.sh")
    for mode in ([], ["--ca"]):
        d = tmp_path / ("ca" if mode else "self")
        d.mkdir()
        subprocess.run(["sh", script, *mode, "registry-server", "127.0.0.1"], cwd=d, check=True,
                       capture_output=True)
        crt = str(d / "certs" / "private-registry.crt")
        key = str(d / "private" / "private-registry.key")
        trust = str(d / "certs" / ("ca.crt" if mode else "private-registry.crt"))
        assert oct(os.stat(key).st_mode & 0o777) == "0o600"
        w = make_wharf(env={"REGISTRY_HTTP_TLS_CERTIFICATE": crt, "REGISTRY_HTTP_TLS_KEY": key})
        w.crt, w.https = trust, f"https://127.0.0.1:{w.port}"
        start_tls(w)
        assert status(w, w.https + "/v2/") == "200"
        # The SAN carries the host name too.
        r = curl("-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", trust,
                 "--resolve", f"registry-server:{w.port}:127.0.0.1",
                 f"https://registry-server:{w.port}/v2/")
        assert r.stdout == b"200"
        w.stop()
