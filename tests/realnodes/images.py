"""Build, once, every image the realnodes cluster runs, without a registry.

    python3 tests/realnodes/images.py      # prints the path of the build's JSON description

From the pinned Go modules (tests/cluster/versions.env, tests/realnodes/versions.env):
  kubeadm, kubelet, kubectl, kube-proxy and the control-plane images  (the kubeadm_cluster scenario's
                                                                        files/node-artifacts.sh)
  registry.k8s.io/kube-proxy:<k8s>        kube-proxy on the userland layer (it runs iptables, conntrack)
  registry.k8s.io/coredns/coredns:<v>     CoreDNS, the static binary alone
  localhost/redundant-kube/kube-router    kube-router on the userland layer (iptables, ipset)
  localhost/redundant-kube/local-path-provisioner
  localhost/redundant-kube/userland       a debootstrap root file system with the test applications'
                                          tools (bash, curl, python3, Java 17, ODBC, psql)
  localhost/redundant-kube-test/<app>     the test applications (tests/realnodes/apps/<app>/, small
                                          programs that behave like the reference systems where the
                                          collection relies on it, never the vendors' products), each
                                          one layer on the userland layer, tagged 1-<layer digest>
  localhost/redundant-kube-test/d2000/<process>   the D2000-like pair: one image per process as the
                                          example names them, one layer, the process as argument
  localhost/redundant-kube-test/postgres  Debian's PostgreSQL server, from its .debs in a layer of its own
                                          between the userland and the app (TEST_APP_DEBS)
  localhost/redundant-kube-test/mosquitto Debian's mosquitto broker and clients, likewise, laid out like the
                                          official eclipse-mosquitto image (NOT that image)
All of them go into one docker-archive (the userland layer stored once) that `ctr images import`
reads. Everything is cached in $RK_CACHE/realnodes under names holding the pinned versions (the
archive under a digest of its contents), so a second run only checks. Progress goes to stderr.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CACHE = Path(os.environ.get("RK_CACHE", Path.home() / ".cache" / "redundant-kube"))
OUT = CACHE / "realnodes"
STALE_ARCHIVE_SECONDS = 24 * 3600
# What a build writes before renaming it into place: one name per process, since another checkout's run on this
# machine may build the same file at the same time.
PARTIAL = f".partial-{os.getpid()}"
NODE_ARTIFACTS = REPO / "extensions/molecule/kubeadm_cluster/files/node-artifacts.sh"
sys.path.insert(0, str(NODE_ARTIFACTS.parent))
from image_archive import tar_entry  # noqa: E402  (the kubeadm_cluster scenario's image writer)

MIRROR = os.environ.get("RK_DEBIAN_MIRROR", "http://deb.debian.org/debian")
LOCAL = "localhost/redundant-kube"
TEST_APPS = HERE / "apps"
TEST_IMAGES = "localhost/redundant-kube-test"
# Each test application's entrypoint; tests/realnodes/apps/<app>/ is its layer's root.
TEST_APP_ENTRYPOINTS = {
    "iris": ("/usr/local/bin/iris-main",),
    "dolphindb": ("/usr/local/bin/dolphindb-like",),
    "d2000": ("/usr/local/bin/d2000-like",),
    "midpoint": ("/opt/midpoint/bin/midpoint.sh", "container"),
    "postgres": ("/usr/local/bin/postgres-like",),
    "mosquitto": ("/docker-entrypoint.sh",),
}
# The default command (the image's CMD) of a test application laid out like an official image that has one: the
# official eclipse-mosquitto image's (the K3S two-node example's broker gives its own `args`, naming its side's
# configuration, and keeps the entrypoint).
TEST_APP_COMMANDS = {"mosquitto": ("/usr/sbin/mosquitto", "-c", "/mosquitto/config/mosquitto.conf")}
# Empty directories an app's layer holds (a git checkout has none): the official mosquitto image's data and
# log directories.
TEST_APP_DIRECTORIES = {"mosquitto": ("mosquitto/data", "mosquitto/log")}
# Test applications that need Debian packages the userland lacks get them in a layer of their own, between the
# userland and the app (`apt-get download` of the suite's packages, `dpkg-deb -x`): the userland layer every
# node imports at start stays as it is. PostgreSQL's server: the package and the two libraries it links that the
# userland does not have (its client and libpq are there already).
# The mosquitto broker and its clients: the packages and the four libraries they link that the userland lacks
# (libmosquitto1, the clients' library; libcjson1; libdlt2 and libwrap0, the broker's logging and host access).
TEST_APP_DEBS = {
    "postgres": ("postgresql-15", "libicu72", "libxml2"),
    "mosquitto": ("mosquitto", "mosquitto-clients", "libmosquitto1", "libcjson1", "libdlt2", "libwrap0"),
}
# Left out of those layers: PostgreSQL's JIT (it would need libllvm, some 100 MB; without the file the server
# runs without JIT), documentation and translations.
DEB_LAYER_EXCLUDES = (
    "./usr/lib/postgresql/*/lib/llvmjit*",
    "./usr/lib/postgresql/*/lib/bitcode",
    "./usr/share/doc",
    "./usr/share/man",
    "./usr/share/locale",
)
# Test applications whose example names an image per process (`<registry>/<process>:<version>`): one image
# each, the same layers, the process given to the entrypoint as its argument.
TEST_APP_PROCESSES = {"d2000": ("server", "clc", "evh", "eds", "kom", "web", "arc")}


def log(message: str) -> None:
    print(f"[realnodes-images {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pinned() -> dict[str, str]:
    values: dict[str, str] = {}
    for env in (REPO / "tests/cluster/versions.env", HERE / "versions.env"):
        for line in env.read_text().splitlines():
            if line and not line.startswith("#"):
                key, value = line.split("=", 1)
                values[key] = value
    return values


def _go_env() -> dict[str, str]:
    return {**os.environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}


def module_dir(module: str, version: str) -> Path:
    """The module's files in the Go module cache (downloaded from the proxy if missing)."""
    download = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        env=_go_env(),
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(json.loads(download.stdout)["Dir"])


def go_binary(name: str, module: str, version: str, package: str, ldflags: str = "") -> Path:
    """A static binary of `package` from `module@version`, built in a wrapper module that requires it
    (the build list is then exactly the module's own requirements)."""
    binary = OUT / "bin" / f"{name}-{version}"
    if binary.is_file():
        return binary
    log(f"building {name} {version} from {module} (Go module proxy): a few minutes on 2 cores, once")
    src = OUT / "src" / f"{name}-{version}"
    src.mkdir(parents=True, exist_ok=True)
    gomod = (module_dir(module, version) / "go.mod").read_text()
    go_line = next(line for line in gomod.splitlines() if line.startswith("go "))
    (src / "go.mod").write_text(
        f"module redundant.kube/build/{name}\n{go_line}\nrequire {module} {version}\n"
    )
    # main packages cannot be imported; an empty package keeps `go build` happy about the module.
    (src / "build.go").write_text("package build\n")
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_suffix(PARTIAL)
    subprocess.run(
        ["go", "build", "-trimpath", "-ldflags", f"-s -w {ldflags}".strip(), "-o", str(partial), package],
        cwd=src,
        env=_go_env(),
        check=True,
    )
    partial.rename(binary)
    log(f"{name} {version} built")
    return binary


def userland_rootfs(suite: str, packages: str) -> Path:
    """A layer tarball of a Debian root file system made by debootstrap with `packages`."""
    key = hashlib.sha256(f"{suite} {packages} {MIRROR}".encode()).hexdigest()[:12]
    layer = OUT / "layers" / f"userland-{suite}-{key}.tar"
    if layer.is_file():
        return layer
    if not shutil.which("debootstrap"):
        raise SystemExit("realnodes images: debootstrap is missing (scripts/setup-system.sh installs it)")
    layer.parent.mkdir(parents=True, exist_ok=True)
    debs = CACHE / "debootstrap-debs"
    debs.mkdir(parents=True, exist_ok=True)
    build_log = OUT / "debootstrap-userland.log"
    with tempfile.TemporaryDirectory(dir=OUT) as root:
        log(f"debootstrap {suite} with {packages} from {MIRROR}: 3 to 6 min, once (log: {build_log})")
        with build_log.open("w") as output:
            done = subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={packages}",
                    f"--cache-dir={debs}",
                    suite,
                    root,
                    MIRROR,
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if done.returncode != 0:
            tail = build_log.read_text().splitlines()[-15:]
            raise SystemExit("realnodes images: debootstrap failed:\n" + "\n".join(tail))
        # The runtime provides /dev, /proc, /sys and resolv.conf; package lists and caches only weigh.
        log("packing the userland layer")
        pack_layer(
            root,
            layer,
            (
                "./dev/*",
                "./proc/*",
                "./sys/*",
                "./etc/resolv.conf",
                "./var/cache/apt/*",
                "./var/lib/apt/lists/*",
            ),
        )
    return layer


def pack_layer(root: str, layer: Path, excludes: tuple[str, ...]) -> None:
    """The directory `root` as a layer tarball (sorted, mtime 0, numeric owners: the same files give the same
    bytes), without the paths matching `excludes`."""
    partial = layer.with_suffix(PARTIAL)
    subprocess.run(
        [
            "tar",
            "--numeric-owner",
            "--sort=name",
            "--mtime=@0",
            *(f"--exclude={pattern}" for pattern in excludes),
            "-C",
            root,
            "-cf",
            str(partial),
            ".",
        ],
        check=True,
    )
    partial.rename(layer)


def deb_layer(name: str, packages: tuple[str, ...], suite: str) -> Path:
    """A layer tarball of `packages` from this machine's apt sources, which must be the userland's suite (the
    libraries must match). Named by the .debs apt would fetch (file names and SHA-256): a new point release makes
    a new layer, the same one is reused without a download."""
    release = dict(
        line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line
    )
    if release.get("VERSION_CODENAME", "").strip('"') != suite:
        raise SystemExit(
            f"realnodes images: the {name} test image takes {', '.join(packages)} from this machine's apt sources, "
            f"which must be Debian {suite} like the userland; this machine is {release.get('PRETTY_NAME', '?')}"
        )
    apt = ["apt-get", "-o", "APT::Sandbox::User=root"]
    # In an empty directory: apt announces no file that is already where it would write it.
    with tempfile.TemporaryDirectory() as empty:
        uris = subprocess.run(
            [*apt, "download", "--print-uris", *packages],
            cwd=empty,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split("\n")
    debs = sorted(line.split()[1:4:2] for line in uris if line.startswith("'"))  # [file name, SHA256:...]
    if len(debs) != len(packages):
        raise SystemExit(
            f"realnodes images: apt knows {len(debs)} of {', '.join(packages)} (apt-get update?)"
        )
    key = hashlib.sha256(json.dumps([debs, DEB_LAYER_EXCLUDES, "usr-merged"]).encode()).hexdigest()[:12]
    layer = OUT / "layers" / f"debs-{name}-{key}.tar"
    if layer.is_file():
        return layer
    log(f"{name}: apt-get download {' '.join(packages)}, unpacked into a layer of their own")
    layer.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=OUT) as work:
        downloads, root = Path(work, "debs"), Path(work, "root")
        downloads.mkdir()
        subprocess.run([*apt, "download", *packages], cwd=downloads, check=True, capture_output=True)
        fetched = sorted(downloads.glob("*.deb"))
        checksums = sorted(f"SHA256:{hashlib.sha256(deb.read_bytes()).hexdigest()}" for deb in fetched)
        if checksums != sorted(checksum for _package, checksum in debs):
            raise SystemExit(f"realnodes images: {', '.join(packages)} are not the files apt announced")
        for deb in fetched:
            subprocess.run(["dpkg-deb", "--extract", str(deb), str(root)], check=True)
        merge_usr(root)
        pack_layer(str(root), layer, DEB_LAYER_EXCLUDES)
    return layer


def merge_usr(root: Path) -> None:
    """Move what packages put under /bin, /sbin and /lib* into /usr, as on the merged-/usr userland. A layer with a
    directory /lib (mosquitto's systemd unit is /lib/systemd/system/mosquitto.service) would replace the userland's
    symbolic link lib -> usr/lib with that directory, and with it every library the image's programs load."""
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        unmerged = root / top
        if unmerged.is_dir() and not unmerged.is_symlink():
            (root / "usr" / top).mkdir(parents=True, exist_ok=True)
            subprocess.run(["cp", "-a", f"{unmerged}/.", str(root / "usr" / top)], check=True)
            shutil.rmtree(unmerged)


def binary_layer(binary: Path, name: str, version: str) -> Path:
    """A layer tarball holding `binary` as /usr/local/bin/<name> (deterministic, cached by name and version)."""
    layer = OUT / "layers" / f"{name}-{version}.tar"
    if layer.is_file() and layer.stat().st_mtime >= binary.stat().st_mtime:
        return layer
    layer.parent.mkdir(parents=True, exist_ok=True)
    partial = layer.with_suffix(PARTIAL)
    with tarfile.open(partial, "w") as root:
        for directory in ("etc", "tmp", "usr", "usr/local", "usr/local/bin", "var", "var/run"):
            tar_entry(root, directory, mode=0o1777 if directory == "tmp" else 0o755)
        tar_entry(root, f"usr/local/bin/{name}", binary.read_bytes(), 0o755)
    partial.rename(layer)
    return layer


def app_layer(name: str) -> Path:
    """A layer tarball of tests/realnodes/apps/<name>/ (owned by root, mtime 0), named by a digest of its files'
    paths, modes and contents: a changed program makes a new layer, an unchanged one is reused."""
    root = TEST_APPS / name
    files = sorted(path for path in root.rglob("*") if path.is_file())
    empty = TEST_APP_DIRECTORIES.get(name, ())
    content = hashlib.sha256("".join(f"{directory}/\0" for directory in empty).encode())
    for path in files:
        content.update(f"{path.relative_to(root)}\0{path.stat().st_mode & 0o777:o}\0".encode())
        content.update(path.read_bytes())
    layer = OUT / "layers" / f"test-{name}-{content.hexdigest()[:12]}.tar"
    if layer.is_file():
        return layer
    layer.parent.mkdir(parents=True, exist_ok=True)
    directories = sorted(
        (
            {str(parent) for path in files for parent in path.relative_to(root).parents}
            | {str(parent) for directory in empty for parent in (Path(directory), *Path(directory).parents)}
        )
        - {"."}
    )
    partial = layer.with_suffix(PARTIAL)
    with tarfile.open(partial, "w") as archive:
        for directory in directories:
            tar_entry(archive, directory, mode=0o755)
        for path in files:
            executable = path.stat().st_mode & 0o100
            tar_entry(archive, str(path.relative_to(root)), path.read_bytes(), 0o755 if executable else 0o644)
    partial.rename(layer)
    return layer


def cached_sha256(path: Path) -> str:
    """SHA-256 of a file, remembered by path, size and modification time (the archives weigh GBs)."""
    record = OUT / "sha256.json"
    known = json.loads(record.read_text()) if record.is_file() else {}
    stamp = f"{path.stat().st_size}:{path.stat().st_mtime_ns}"
    if known.get(str(path), {}).get("stamp") != stamp:
        log(f"hashing {path.name}")
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        known[str(path)] = {"stamp": stamp, "sha256": digest.hexdigest()}
        record.write_text(json.dumps(known, indent=1, sort_keys=True))
    return known[str(path)]["sha256"]


@dataclass(frozen=True)
class Image:
    reference: str
    layers: tuple[Path, ...]
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()


def write_archive(images: list[Image], digests: dict[Path, str]) -> Path:
    """One docker-archive holding `images`; a layer several images share is stored once. Its name is a
    digest of the images' references, layers and configs, so it is written only when one changed."""
    configs = {}
    for image in images:
        config = {
            "architecture": "amd64",
            "os": "linux",
            "config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                **({"Entrypoint": list(image.entrypoint)} if image.entrypoint else {}),
                **({"Cmd": list(image.cmd)} if image.cmd else {}),
            },
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{digests[layer]}" for layer in image.layers]},
            "history": [
                {"created_by": f"redundant.kube tests/realnodes/images.py {layer.name}"}
                for layer in image.layers
            ],
        }
        configs[image.reference] = json.dumps(config, sort_keys=True).encode()
    key = hashlib.sha256(
        json.dumps({ref: cfg.decode() for ref, cfg in configs.items()}, sort_keys=True).encode()
    )
    archive_path = OUT / f"images-{key.hexdigest()[:16]}.tar"
    if archive_path.is_file():
        os.utime(archive_path)  # in use: see the clean-up below
        return archive_path
    log(f"writing {archive_path.name} ({len(images)} images)")
    manifest = []
    partial = archive_path.with_suffix(PARTIAL)
    with tarfile.open(partial, "w") as archive:
        written: set[str] = set()
        for image in images:
            config_id = hashlib.sha256(configs[image.reference]).hexdigest()
            tar_entry(archive, f"{config_id}.json", configs[image.reference])
            for layer in image.layers:
                if digests[layer] not in written:
                    tar_entry(archive, digests[layer])
                    archive.add(layer, f"{digests[layer]}/layer.tar", recursive=False)
                    written.add(digests[layer])
            manifest.append(
                {
                    "Config": f"{config_id}.json",
                    "RepoTags": [image.reference],
                    "Layers": [f"{digests[layer]}/layer.tar" for layer in image.layers],
                }
            )
        tar_entry(archive, "manifest.json", json.dumps(manifest).encode())
    partial.rename(archive_path)
    # Each archive weighs ~650 MB. One of other inputs that no run has used for a day is an older build's; a newer
    # one may be another checkout's (a branch's cluster starting beside this one) and stays.
    for stale in OUT.glob("images-*"):
        if stale.stem != archive_path.stem and time.time() - stale.stat().st_mtime > STALE_ARCHIVE_SECONDS:
            log(f"removing {stale.name} (an earlier build, unused for a day)")
            stale.unlink(missing_ok=True)
    return archive_path


def test_app_images(
    layers: dict[str, Path], deb_layers: dict[str, Path], digests: dict[Path, str], userland: Path
) -> dict[str, Image]:
    """The test applications' images on the userland layer (and their packages' layer, if any), keyed as the
    build's description lists them: `test-<app>`, or `test-<app>/<process>` for an app with an image per
    process. The tag names the app's own layer, and its packages' layer when it has one."""
    found = {}
    for name, layer in layers.items():
        # The app's own layers: its packages' layer if it has one, then its program's.
        own = (*((deb_layers[name],) if name in deb_layers else ()), layer)
        tag = "1-" + "-".join(digests[part][:12] for part in own)
        entrypoint, command = TEST_APP_ENTRYPOINTS[name], TEST_APP_COMMANDS.get(name, ())
        if name in TEST_APP_PROCESSES:
            for process in TEST_APP_PROCESSES[name]:
                reference = f"{TEST_IMAGES}/{name}/{process}:{tag}"
                found[f"test-{name}/{process}"] = Image(reference, (userland, *own), (*entrypoint, process))
        else:
            found[f"test-{name}"] = Image(
                f"{TEST_IMAGES}/{name}:{tag}", (userland, *own), entrypoint, command
            )
    return found


def addon_binaries(versions: dict[str, str]) -> dict[str, Path]:
    """CoreDNS, kube-router and local-path-provisioner, each from its pinned module."""
    router = "github.com/cloudnativelabs/kube-router/v2"
    router_version = versions["KUBE_ROUTER_VERSION"]
    provisioner = "github.com/rancher/local-path-provisioner"
    provisioner_version = versions["LOCAL_PATH_PROVISIONER_VERSION"]
    return {
        "coredns": go_binary(
            "coredns", "github.com/coredns/coredns", versions["COREDNS_VERSION"], "github.com/coredns/coredns"
        ),
        "kube-router": go_binary(
            "kube-router",
            router,
            router_version,
            f"{router}/cmd/kube-router",
            f"-X {router}/pkg/version.Version={router_version} -X {router}/pkg/version.BuildDate=1970-01-01",
        ),
        "local-path-provisioner": go_binary(
            "local-path-provisioner",
            provisioner,
            provisioner_version,
            provisioner,
            f"-X main.VERSION={provisioner_version}",
        ),
    }


def build() -> Path:
    """Build (or find) everything; returns the JSON file describing it."""
    versions = pinned()
    log("node binaries and control-plane images (node-artifacts.sh)")
    node = subprocess.run([str(NODE_ARTIFACTS)], check=True, capture_output=True, text=True)
    sys.stderr.write(node.stderr)
    node_dir = Path(node.stdout.strip().splitlines()[-1])
    listed = subprocess.run(
        [
            str(node_dir / "kubeadm"),
            "config",
            "images",
            "list",
            "--kubernetes-version",
            versions["KUBE_VERSION"],
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    coredns_ref = next(ref for ref in listed if "/coredns:" in ref)
    if not coredns_ref.endswith(":" + versions["COREDNS_VERSION"]):
        raise SystemExit(
            f"realnodes images: kubeadm {versions['KUBE_VERSION']} deploys {coredns_ref}, "
            f"but tests/realnodes/versions.env pins COREDNS_VERSION={versions['COREDNS_VERSION']}: make them equal"
        )
    binaries = addon_binaries(versions)
    userland = userland_rootfs(versions["USERLAND_SUITE"], versions["USERLAND_PACKAGES"])
    layers = {
        "kube-proxy": binary_layer(node_dir / "kube-proxy", "kube-proxy", versions["KUBE_VERSION"]),
        "coredns": binary_layer(binaries["coredns"], "coredns", versions["COREDNS_VERSION"]),
        "kube-router": binary_layer(binaries["kube-router"], "kube-router", versions["KUBE_ROUTER_VERSION"]),
        "local-path-provisioner": binary_layer(
            binaries["local-path-provisioner"],
            "local-path-provisioner",
            versions["LOCAL_PATH_PROVISIONER_VERSION"],
        ),
    }
    test_layers = {name: app_layer(name) for name in TEST_APP_ENTRYPOINTS}
    deb_layers = {
        name: deb_layer(name, packages, versions["USERLAND_SUITE"])
        for name, packages in TEST_APP_DEBS.items()
    }
    digests = {
        layer: cached_sha256(layer)
        for layer in [userland, *layers.values(), *test_layers.values(), *deb_layers.values()]
    }
    userland_ref = f"{LOCAL}/userland:{versions['USERLAND_SUITE']}-{digests[userland][:12]}"
    test_images = test_app_images(test_layers, deb_layers, digests, userland)
    refs = {
        "kube-proxy": f"registry.k8s.io/kube-proxy:{versions['KUBE_VERSION']}",
        "coredns": coredns_ref,
        "kube-router": f"{LOCAL}/kube-router:{versions['KUBE_ROUTER_VERSION']}",
        "local-path-provisioner": f"{LOCAL}/local-path-provisioner:{versions['LOCAL_PATH_PROVISIONER_VERSION']}",
        "userland": userland_ref,
        **{key: image.reference for key, image in test_images.items()},
    }
    images = [
        Image(refs["kube-proxy"], (userland, layers["kube-proxy"]), ("/usr/local/bin/kube-proxy",)),
        Image(refs["coredns"], (layers["coredns"],), ("/usr/local/bin/coredns",)),
        Image(refs["kube-router"], (userland, layers["kube-router"]), ("/usr/local/bin/kube-router",)),
        Image(
            refs["local-path-provisioner"],
            (userland, layers["local-path-provisioner"]),
            ("/usr/local/bin/local-path-provisioner",),
        ),
        Image(refs["userland"], (userland,), cmd=("/bin/bash",)),
        *test_images.values(),
    ]
    archive = write_archive(images, digests)
    description = archive.with_suffix(".json")
    files = {
        "archives": [*sorted((node_dir / "images").glob("*.tar")), archive],
        "binaries": [node_dir / binary for binary in ("kubeadm", "kubelet", "kubectl")],
    }
    description.write_text(
        json.dumps(
            {
                "versions": versions,
                "node_artifacts": str(node_dir),
                **{
                    kind: {path.name: {"src": str(path), "sha256": cached_sha256(path)} for path in paths}
                    for kind, paths in files.items()
                },
                "images": refs,
                "pause": next(ref for ref in listed if "/pause:" in ref),
            },
            indent=1,
        )
    )
    log(f"images ready: {description}")
    return description


if __name__ == "__main__":
    print(build())
