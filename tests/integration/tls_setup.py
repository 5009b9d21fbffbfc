"""Certificates and htpasswd files made with the real tools (openssl, htpasswd)."""
import os
import subprocess


def self_signed(dirpath, name="private-registry", cn="unused", bits=2048):
    """The blog-post command: a self-signed certificate with a SAN. Returns
    (crt, key). The SAN also names 127.0.0.1 so clients can verify it."""
    crt = os.path.join(dirpath, name + ".crt")
    key = os.path.join(dirpath, name + ".key")
    subprocess.run(["openssl", "req", "-newkey", f"rsa:{bits}", "-days", "3650", "-nodes", "-sha256",
                    "-keyout", key, "-x509", "-out", crt, "-subj", f"/CN={cn}",
                    "-addext", "subjectAltName=DNS:registry-server,DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return crt, key


def ec_self_signed(dirpath, name="ec"):
    crt = os.path.join(dirpath, name + ".crt")
    key = os.path.join(dirpath, name + ".key")
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-days", "30", "-nodes", "-keyout", key, "-x509", "-out", crt, "-subj", "/CN=ec",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return crt, key


def htpasswd(path, user, password, create=True):
    args = ["htpasswd", "-B", "-b"] + (["-c"] if create else []) + [path, user, password]
    subprocess.run(args, check=True, capture_output=True)


def cert_dir(dirpath, crt):
    """A directory holding ca.crt, as skopeo's --cert-dir and docker's certs.d want."""
    os.makedirs(dirpath, exist_ok=True)
    with open(crt, "rb") as src, open(os.path.join(dirpath, "ca.crt"), "wb") as dst:
        dst.write(src.read())
    return dirpath


def client_ca_and_cert(dirpath, name="client"):
    """A private CA (ca-<name>.crt) and a client certificate it signed
    (<name>.cert, <name>.key: the names docker's certs.d and skopeo's
    --cert-dir look for). Returns (ca_crt, cert, key)."""
    os.makedirs(dirpath, exist_ok=True)
    ca_crt = os.path.join(dirpath, f"ca-{name}.crt")
    ca_key = os.path.join(dirpath, f"ca-{name}.key")
    cert = os.path.join(dirpath, name + ".cert")
    key = os.path.join(dirpath, name + ".key")
    csr = os.path.join(dirpath, name + ".csr")
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-x509", "-days", "30",
        "-out", ca_crt, "-subj", f"/CN=ca for {name}")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
        "-days", "30", "-out", cert)
    return ca_crt, cert, key
