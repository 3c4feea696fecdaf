"""Write a container image archive (docker-archive layout, which `ctr images import` reads) holding one
static binary at /usr/local/bin/<name>, with that binary as entrypoint and /usr/local/bin on PATH.

    python3 image_archive.py OUT.tar REFERENCE BINARY

The kubeadm molecule scenario uses it to turn the locally built Kubernetes binaries into the images
kubeadm's static pods name (registry.k8s.io/kube-apiserver:<version>, ...), since no registry is
reachable. Deterministic: the same binary gives the same archive, byte for byte.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path


def tar_entry(archive: tarfile.TarFile, name: str, data: bytes | None = None, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.mode = mode
    if data is None:
        info.type = tarfile.DIRTYPE
        archive.addfile(info)
    else:
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))


def image_archive(out: Path, reference: str, binary: Path) -> None:
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as root:
        for directory in ("etc", "tmp", "usr", "usr/local", "usr/local/bin", "var", "var/run"):
            tar_entry(root, directory, mode=0o1777 if directory == "tmp" else 0o755)
        tar_entry(root, f"usr/local/bin/{binary.name}", binary.read_bytes(), 0o755)
    layer_bytes = layer.getvalue()
    layer_id = hashlib.sha256(layer_bytes).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": [f"/usr/local/bin/{binary.name}"],
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
        },
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_id}"]},
        "history": [{"created_by": f"redundant.kube image_archive.py {binary.name}"}],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_id = hashlib.sha256(config_bytes).hexdigest()
    manifest = [{"Config": f"{config_id}.json", "RepoTags": [reference], "Layers": [f"{layer_id}/layer.tar"]}]
    partial = out.with_suffix(".partial")
    with tarfile.open(partial, "w") as archive:
        tar_entry(archive, f"{config_id}.json", config_bytes)
        tar_entry(archive, layer_id)
        tar_entry(archive, f"{layer_id}/layer.tar", layer_bytes)
        tar_entry(archive, "manifest.json", json.dumps(manifest).encode())
    partial.rename(out)


if __name__ == "__main__":
    image_archive(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
