"""Deterministic test images as OCI image layouts (no network, no docker).

Layers are tar archives with fixed mtimes and owners, gzip'd with mtime 0,
filled from a seeded PRNG, so the same arguments always give the same
digests."""
import gzip
import hashlib
import io
import json
import os
import random
import tarfile

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Layout:
    def __init__(self, path):
        self.path = path
        os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(path, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)
        self.index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}

    def put(self, data):
        d = sha256(data)
        with open(os.path.join(self.path, "blobs", "sha256", d[7:]), "wb") as f:
            f.write(data)
        return d

    def tag(self, desc, name):
        desc = dict(desc)
        desc["annotations"] = {"org.opencontainers.image.ref.name": name}
        self.index["manifests"].append(desc)
        with open(os.path.join(self.path, "index.json"), "w") as f:
            json.dump(self.index, f)


def layer(seed, size):
    rnd = random.Random(seed)
    payload = bytes(rnd.getrandbits(8) for _ in range(size)) if size < 1 << 16 else \
        rnd.randbytes(size)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        info = tarfile.TarInfo(f"data/file-{seed}")
        info.size = len(payload)
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        t.addfile(info, io.BytesIO(payload))
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0) as g:
        g.write(buf.getvalue())
    return gz.getvalue(), sha256(buf.getvalue())


def image(lay, seed, layer_sizes, arch="amd64"):
    """Writes config, layers and manifest into the layout; returns
    (manifest descriptor, manifest bytes, [blob digests])."""
    blobs = []
    layers, diff_ids = [], []
    for i, size in enumerate(layer_sizes):
        data, diff = layer(seed * 100 + i, size)
        d = lay.put(data)
        blobs.append(d)
        layers.append({"mediaType": OCI_LAYER, "digest": d, "size": len(data)})
        diff_ids.append(diff)
    config = json.dumps({
        "architecture": arch, "os": "linux",
        "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }, sort_keys=True).encode()
    cd = lay.put(config)
    blobs.insert(0, cd)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": cd, "size": len(config)},
        "layers": layers,
    }, sort_keys=True).encode()
    md = lay.put(manifest)
    desc = {"mediaType": OCI_MANIFEST, "digest": md, "size": len(manifest),
            "platform": {"architecture": arch, "os": "linux"}}
    return desc, manifest, blobs


def single(path, tag="v1", seed=1, layer_sizes=(1000, 20000, 300000)):
    lay = Layout(path)
    desc, manifest, blobs = image(lay, seed, layer_sizes)
    lay.tag({k: v for k, v in desc.items() if k != "platform"}, tag)
    return desc["digest"], blobs


def multi_arch(path, tag="multi", seed=7, archs=("amd64", "arm64")):
    lay = Layout(path)
    descs, all_blobs = [], []
    for i, arch in enumerate(archs):
        desc, _, blobs = image(lay, seed + i, (5000, 40000), arch)
        descs.append(desc)
        all_blobs += blobs
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                        "manifests": descs}, sort_keys=True).encode()
    idx = lay.put(index)
    lay.tag({"mediaType": OCI_INDEX, "digest": idx, "size": len(index)}, tag)
    return idx, [d["digest"] for d in descs], all_blobs
