"""The realnodes test applications without a cluster: their image layers are content-addressed and
reproducible, and the IRIS-like instance behaves as the iris_single example expects of it (the liveness
command, stop_process, data in ISC_DATA_DIRECTORY across restarts, backup.yml's freeze and thaw). On running
containers they are exercised by tests/realnodes (the realnodes tier)."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support.keystore_helpers import der

from ansible_collections.redundant.kube.plugins.module_utils.keystore.model import (
    SecretKeyEntry,
    TrustedCertEntry,
)
from ansible_collections.redundant.kube.plugins.module_utils.keystore.store import Keystore

REALNODES = Path(__file__).resolve().parents[2] / "realnodes"
sys.path.insert(0, str(REALNODES))
import images  # noqa: E402  (tests/realnodes/images.py)

IRIS_BIN = REALNODES / "apps" / "iris" / "usr" / "local" / "bin"


def test_app_layers_are_reproducible_and_named_by_their_content(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "TEST_APPS", tmp_path / "apps")
    shutil.copytree(REALNODES / "apps", tmp_path / "apps")
    monkeypatch.setattr(images, "OUT", tmp_path / "out-1")
    first = images.app_layer("iris")
    monkeypatch.setattr(images, "OUT", tmp_path / "out-2")
    again = images.app_layer("iris")
    assert first.name == again.name and first.read_bytes() == again.read_bytes()
    with tarfile.open(first) as layer:
        members = {m.name: m for m in layer.getmembers()}
    assert members["usr/local/bin/iris-main"].mode == 0o755 and members["usr/local/bin/iris"].mode == 0o755
    assert {"usr", "usr/local", "usr/local/bin"} <= set(members)
    assert all(m.mtime == 0 and m.uid == 0 for m in members.values())

    script = tmp_path / "apps" / "iris" / "usr" / "local" / "bin" / "iris"
    script.write_text(script.read_text() + "\n")
    assert images.app_layer("iris").name != first.name


@pytest.mark.parametrize("app", sorted(images.TEST_APP_ENTRYPOINTS))
def test_every_test_image_entrypoint_is_an_executable_of_its_layer(app):
    path = REALNODES / "apps" / app / images.TEST_APP_ENTRYPOINTS[app][0].lstrip("/")
    assert path.is_file() and path.stat().st_mode & 0o111, path
    assert path.read_text().split("\n", 1)[0] in (
        "#!/usr/bin/python3",
        "#!/usr/bin/env bash",
    )  # the userland's


def test_the_d2000_like_pair_has_an_image_per_process_as_the_example_names_them(tmp_path):
    layers = {"d2000": tmp_path / "d2000.tar", "iris": tmp_path / "iris.tar"}
    digests = {layers["d2000"]: "d" * 64, layers["iris"]: "e" * 64}
    found = images.test_app_images(layers, {}, digests, tmp_path / "userland.tar")
    assert found["test-iris"].reference == "localhost/redundant-kube-test/iris:1-eeeeeeeeeeee"
    servers = {key: image for key, image in found.items() if key.startswith("test-d2000/")}
    assert sorted(servers) == sorted(f"test-d2000/{p}" for p in images.TEST_APP_PROCESSES["d2000"])
    server = found["test-d2000/server"]
    assert server.reference == "localhost/redundant-kube-test/d2000/server:1-dddddddddddd"
    assert server.entrypoint == ("/usr/local/bin/d2000-like", "server")
    assert {image.layers for image in servers.values()} == {(tmp_path / "userland.tar", layers["d2000"])}


def test_an_app_with_debian_packages_gets_their_layer_between_the_userland_and_its_own(tmp_path):
    userland, debs, app = tmp_path / "userland.tar", tmp_path / "debs.tar", tmp_path / "postgres.tar"
    found = images.test_app_images(
        {"postgres": app}, {"postgres": debs}, {debs: "a" * 64, app: "b" * 64}, userland
    )
    assert found["test-postgres"].layers == (userland, debs, app)
    # A new point release of the packages is a new tag, as a changed program is.
    assert (
        found["test-postgres"].reference
        == "localhost/redundant-kube-test/postgres:1-aaaaaaaaaaaa-bbbbbbbbbbbb"
    )
    assert found["test-postgres"].entrypoint == ("/usr/local/bin/postgres-like",)


def test_the_mosquitto_image_is_debians_broker_in_the_official_images_layout(tmp_path, monkeypatch):
    """Debian's broker and clients from their packages, in a layer of their own; the layer of the test app itself
    is the official eclipse-mosquitto image's layout: its configuration path holding a default configuration
    (comments only, every option at its default), the data and log directories, its entrypoint and command."""
    assert {"mosquitto", "mosquitto-clients"} <= set(images.TEST_APP_DEBS["mosquitto"])
    monkeypatch.setattr(images, "OUT", tmp_path)
    with tarfile.open(images.app_layer("mosquitto")) as layer:
        members = {m.name: m for m in layer.getmembers()}
        config = layer.extractfile("mosquitto/config/mosquitto.conf").read().decode()
    assert members["mosquitto/data"].isdir() and members["mosquitto/log"].isdir()
    assert members["docker-entrypoint.sh"].mode == 0o755
    assert all(line.startswith("#") for line in config.splitlines() if line.strip()), config
    userland, debs, app = tmp_path / "userland.tar", tmp_path / "debs.tar", tmp_path / "mosquitto.tar"
    image = images.test_app_images(
        {"mosquitto": app}, {"mosquitto": debs}, {debs: "a" * 64, app: "b" * 64}, userland
    )["test-mosquitto"]
    assert image.reference == "localhost/redundant-kube-test/mosquitto:1-aaaaaaaaaaaa-bbbbbbbbbbbb"
    assert image.layers == (userland, debs, app)
    assert image.entrypoint == ("/docker-entrypoint.sh",)
    assert image.cmd == ("/usr/sbin/mosquitto", "-c", "/mosquitto/config/mosquitto.conf")


def iris(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(IRIS_BIN / "iris"), *args], env=env, capture_output=True, text=True, check=False
    )


def start_instance(env: dict[str, str]) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, str(IRIS_BIN / "iris-main")], env=env, stdout=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while "running" not in iris(env, "qlist", "iris").stdout:
        assert process.poll() is None and time.monotonic() < deadline, "iris-main did not start"
        time.sleep(0.1)
    return process


def http_status(path: str = "/") -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:52773{path}", timeout=5) as response:
            assert json.loads(response.read())["settings"] == {"globals": "0,0,800,0,0,0"}
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.slow
def test_iris_like_instance_stops_without_its_container_and_keeps_its_data(tmp_path):
    merge = tmp_path / "merge.cpf"
    merge.write_text("[config]\nglobals=0,0,800,0,0,0\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "ISC_DATA_DIRECTORY": str(tmp_path / "data"),
        "ISC_CPF_MERGE_FILE": str(merge),
        "IRIS_LIKE_RUN": str(tmp_path / "run-1"),
    }
    process = start_instance(env)
    try:
        assert iris(env, "session", "iris", "-U", "USER", 'set ^x="42"').returncode == 0
        assert iris(env, "session", "iris", "-U", "USER", "write ^x").stdout == "42\n"
        assert http_status() == 200
        freeze = "##Class(Backup.General).ExternalFreeze()"
        assert iris(env, "session", "iris", "-U", "%SYS", freeze).returncode == 0
        assert iris(env, "session", "iris", "-U", "USER", 'set ^x="43"').returncode == 1  # frozen
        assert (
            iris(env, "session", "iris", "-U", "%SYS", "##Class(Backup.General).ExternalThaw()").returncode
            == 0
        )

        assert iris(env, "stop", "iris", "quietly").returncode == 0
        # The liveness command of the example now fails, while the container's process stays.
        liveness = subprocess.run(
            ["/bin/sh", "-c", f"{sys.executable} {IRIS_BIN / 'iris'} qlist iris | grep running"],
            env=env,
            check=False,
        )
        assert liveness.returncode == 1
        assert process.poll() is None
        assert http_status() == 503
        assert iris(env, "session", "iris", "-U", "USER", "write ^x").returncode == 1
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0

    # A new container (fresh /run), the same claim: running again, with the data written before.
    restarted = start_instance({**env, "IRIS_LIKE_RUN": str(tmp_path / "run-2")})
    try:
        assert (
            iris(
                {**env, "IRIS_LIKE_RUN": str(tmp_path / "run-2")}, "session", "iris", "-U", "USER", "write ^x"
            ).stdout
            == "42\n"
        )
        assert len((tmp_path / "data" / "starts").read_text().splitlines()) == 2
    finally:
        restarted.terminate()
        restarted.wait(timeout=10)


DOLPHINDB = REALNODES / "apps" / "dolphindb" / "usr" / "local" / "bin" / "dolphindb-like"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("license_text", "core_dir", "refusal"),
    [
        (None, True, "no license at"),
        ("customer=example\nvalid=false\n", True, "is invalid: refusing to start"),
        ("   \n", True, "is invalid: refusing to start"),
        ("customer=example\n", False, "the core dump directory"),
    ],
)
def test_dolphindb_like_node_refuses_to_start_without_a_valid_license_or_core_dir(
    tmp_path, license_text, core_dir, refusal
):
    env = dolphindb_env(tmp_path, license_text, core_dir)
    done = subprocess.run(
        [sys.executable, str(DOLPHINDB)], env=env, capture_output=True, text=True, timeout=20, check=False
    )
    assert done.returncode == 1 and refusal in done.stdout, done


def dolphindb_env(tmp_path: Path, license_text: str | None, core_dir: bool = True) -> dict[str, str]:
    if license_text is not None:
        (tmp_path / "dolphindb.lic").write_text(license_text)
    if core_dir:
        (tmp_path / "core").mkdir(exist_ok=True)
    return {
        "PATH": "/usr/bin:/bin",
        "DDB_LICENSE_FILE": str(tmp_path / "dolphindb.lic"),
        "DDB_DATA_DIR": str(tmp_path / "data"),
        "DDB_CORE_DIR": str(tmp_path / "core"),
        "DDB_PORT": str(free_port()),
    }


def test_dolphindb_like_node_reports_the_license_it_started_with(tmp_path):
    env = dolphindb_env(tmp_path, "customer=example\nexpiration=2030-01-01\n")
    node = subprocess.Popen([sys.executable, str(DOLPHINDB)], env=env, stdout=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{env['DDB_PORT']}/", timeout=2) as response:
                    state = json.loads(response.read())
                break
            except OSError:
                assert node.poll() is None and time.monotonic() < deadline, "the data node did not start"
                time.sleep(0.1)
        assert state["license"] == "customer=example\nexpiration=2030-01-01\n"
        # A new license on disk changes nothing until the process restarts, as with the real server.
        (tmp_path / "dolphindb.lic").write_text("customer=other\n")
        with urllib.request.urlopen(f"http://127.0.0.1:{env['DDB_PORT']}/", timeout=2) as response:
            assert json.loads(response.read())["license"] == state["license"]
    finally:
        node.terminate()
        assert node.wait(timeout=10) == 0


D2000 = REALNODES / "apps" / "d2000" / "usr" / "local" / "bin" / "d2000-like"


class D2000Pair:
    """Processes of the D2000-like pair on this host, each on a port of its own (D2000_LIKE_PORT)."""

    def __init__(self, tmp_path: Path, license_text: str = "customer=example\n") -> None:
        self.home = tmp_path / "config"
        self.home.mkdir()
        (self.home / "LicenceRun.code").write_text(license_text)
        (self.home / "ConsolesInfo.txt").write_text("A;B\n")
        self.log = tmp_path / "log"
        self.log.mkdir()
        self.ports = {side: free_port() for side in "ab"}
        self.processes: dict[str, tuple[subprocess.Popen, dict[str, str]]] = {}

    def env(self, side: str, port: int) -> dict[str, str]:
        return {
            "PATH": "/usr/bin:/bin",
            "REDUNDANT_KUBE_SIDE": side,
            "D2000_HOME": str(self.home),
            "D2000_SERVER": f"127.0.0.1:{self.ports[side]}",
            "D2000_SERVERS": ",".join(f"127.0.0.1:{self.ports[s]}" for s in "ab"),
            "D2000_LIKE_PORT": str(port),
            "D2000_LIKE_LOG_DIR": str(self.log),
        }

    def start(self, process: str, side: str) -> subprocess.Popen:
        port = self.ports[side] if process == "server" else free_port()
        env = self.env(side, port)
        popen = subprocess.Popen([sys.executable, str(D2000), process], env=env, stdout=subprocess.PIPE)
        self.processes[f"{process}-{side}"] = (popen, env)
        return popen

    def state(self, name: str) -> dict | None:
        env = self.processes[name][1]
        done = subprocess.run(
            [sys.executable, str(D2000), "state", name.split("-")[0]],
            env=env,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return json.loads(done.stdout) if done.returncode == 0 else None

    def hot(self, side: str) -> bool:
        env = self.processes[f"server-{side}"][1]
        hot = subprocess.run([sys.executable, str(D2000), "hot"], env=env, timeout=10, check=False)
        return hot.returncode == 0

    def until(self, what: str, condition, timeout: float = 20):
        deadline = time.monotonic() + timeout
        while not (result := condition()):
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.2)
        return result

    def stop(self, name: str) -> None:
        popen = self.processes.pop(name)[0]
        popen.terminate()
        popen.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)


@pytest.mark.slow
def test_d2000_like_servers_elect_one_hot_and_the_standby_takes_over(tmp_path):
    pair = D2000Pair(tmp_path)
    try:
        for side in "ab":
            pair.start("server", side)
        pair.start("clc", "b")
        pair.start("arc", "b")
        states = pair.until(
            "one HOT and one STANDBY",
            lambda: (
                (s := {side: (pair.state(f"server-{side}") or {}).get("state") for side in "ab"})
                in ({"a": "HOT", "b": "STANDBY"}, {"a": "STANDBY", "b": "HOT"})
                and s
            ),
        )
        hot = next(side for side, state in states.items() if state == "HOT")
        standby = "b" if hot == "a" else "a"
        assert pair.hot(hot) and not pair.hot(standby)
        server = pair.state(f"server-{hot}")
        assert server["license"] == "customer=example\n" and server["config"]["ConsolesInfo.txt"] == "A;B\n"
        # The companion is with its own side's server, the archive instance with the HOT one.
        assert pair.until("clc connected", lambda: (pair.state("clc-b") or {}).get("server_side")) == "b"
        assert pair.until("arc connected", lambda: (pair.state("arc-b") or {}).get("server_side")) == hot
        assert {c["process"] for c in pair.state("server-b")["clients"]} >= {"clc"}
        assert {"server-a.log", "server-b.log", "clc-b.log"} <= set(pair.state("server-a")["log_files"])

        pair.stop(f"server-{hot}")
        pair.until("the STANDBY taking over", lambda: pair.hot(standby), timeout=10)
        assert pair.until("arc following", lambda: (pair.state("arc-b") or {}).get("server_side")) == standby
        # The stopped side comes back as STANDBY beside the new HOT one.
        pair.start("server", hot)
        assert pair.until(
            "the restarted server STANDBY",
            lambda: (pair.state(f"server-{hot}") or {}).get("state") == "STANDBY",
        )
        assert pair.hot(standby)
    finally:
        pair.stop_all()


@pytest.mark.parametrize(
    ("license_text", "process", "refusal"),
    [
        ("customer=example\nvalid=false\n", "server", "is invalid: refusing to start"),
        ("", "server", "is invalid: refusing to start"),
        ("customer=example\n", "clc", "no server address"),
    ],
)
def test_d2000_like_processes_refuse_to_start_without_a_license_or_a_server(
    tmp_path, license_text, process, refusal
):
    pair = D2000Pair(tmp_path, license_text)
    env = pair.env("a", free_port())
    if process == "clc":
        del env["D2000_SERVER"]
    done = subprocess.run(
        [sys.executable, str(D2000), process],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert done.returncode == 1 and refusal in done.stdout, done


MIDPOINT = REALNODES / "apps" / "midpoint" / "opt" / "midpoint"


def midpoint_member(tmp_path: Path, java_tools, keystore: bytes, store_password: str) -> subprocess.Popen:
    """The midPoint-like member's JVM (MidpointLike.java run from source, as its image runs it) over a keystore
    file, with the example's variables."""
    (tmp_path / "keystore.jceks").write_bytes(keystore)
    (tmp_path / "keystore").write_text(store_password)
    env = {
        "PATH": "/usr/bin:/bin",
        "MP_SET_midpoint_nodeIdSource": "hostname",
        "MP_SET_midpoint_keystore_keyStorePath": str(tmp_path / "keystore.jceks"),
        "MP_SET_midpoint_keystore_keyStorePassword_FILE": str(tmp_path / "keystore"),
    }
    source = MIDPOINT / "lib" / "MidpointLike.java"
    return subprocess.Popen(
        [java_tools.java, "-Xmx64m", "-XX:+UseSerialGC", str(source)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def codec_keystore(ca_certs, key: bytes, key_password: str) -> bytes:
    """A JCEKS keystore as the keystore module writes it: the secret key `default` and the CA `extra-ca`."""
    entries = [
        SecretKeyEntry("default", algorithm="AES", key=key),
        TrustedCertEntry("extra-ca", certificate=der(ca_certs[0])),
    ]
    return Keystore("jceks", entries).dump("changeit", {"default": key_password})


def test_midpoint_like_member_opens_the_keystore_module_writes_with_a_real_jvm(
    tmp_path, java_tools, ca_certs
):
    key = bytes(range(16))
    member = midpoint_member(tmp_path, java_tools, codec_keystore(ca_certs, key, "midpoint"), "changeit\n")
    try:
        assert member.stdout is not None
        # The keystore is reported before the HTTP port is bound: nothing here depends on 8080 being free.
        lines = [member.stdout.readline(), member.stdout.readline()]
    finally:
        member.kill()
        member.wait()
    node_id = Path("/proc/sys/kernel/hostname").read_text().strip()
    assert lines[0] == f"midpoint-like: node id {node_id} (from the host name)\n", lines
    opened = json.loads(lines[1].removeprefix("midpoint-like: keystore "))
    digest = base64.b64encode(hashlib.sha1(key).digest()).decode()  # midPoint names a key by this digest
    assert opened["type"] == "JCEKS"
    assert opened["secretKey"] == {"alias": "default", "algorithm": "AES", "bits": 128, "digest": digest}
    (certificate,) = opened["trustedCertificates"]
    assert (certificate["alias"], certificate["subject"]) == ("extra-ca", "CN=Test Root CA")


@pytest.mark.parametrize(
    ("key_password", "store_password", "reason"),
    [
        ("midpoint", "wrong", "Keystore was tampered with, or password was incorrect"),
        # midPoint recovers its keys with its fixed password "midpoint": a key sealed with another is unusable.
        ("changeit", "changeit", "UnrecoverableKeyException"),
    ],
    ids=["wrong-store-password", "key-not-sealed-with-midpoints-key-password"],
)
def test_midpoint_like_member_refuses_a_keystore_it_cannot_open(
    tmp_path, java_tools, ca_certs, key_password, store_password, reason
):
    keystore = codec_keystore(ca_certs, bytes(16), key_password)
    member = midpoint_member(tmp_path, java_tools, keystore, store_password)
    stdout, stderr = member.communicate(timeout=120)
    assert member.returncode == 1 and not stdout, (stdout, stderr)
    assert (
        stderr.startswith("midpoint-like: refusing to start: cannot open the keystore: ") and reason in stderr
    )
