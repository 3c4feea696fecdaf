"""The realnodes test applications without a cluster: their image layers are content-addressed and
reproducible, and the IRIS-like instance behaves as the iris_single example expects of it (the liveness
command, stop_process, data in ISC_DATA_DIRECTORY across restarts, backup.yml's freeze and thaw). On running
containers they are exercised by tests/realnodes (the realnodes tier)."""

from __future__ import annotations

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
    path = REALNODES / "apps" / app / images.TEST_APP_ENTRYPOINTS[app].lstrip("/")
    assert path.is_file() and path.stat().st_mode & 0o111, path
    assert path.read_text().startswith("#!/usr/bin/python3\n")  # the userland image's Python


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
