"""The realnodes cluster for a pytest session: started once (or reused when it is already running) and
stopped at the end if this session started it. `RK_REALNODES_KEEP=1` keeps it for the next session.
scripts/run-tests.sh starts the cluster itself and runs two sessions on it: the tests that leave the nodes
alone with two workers, then those marked `disrupts_nodes` (they drain or kill nodes) alone.

Fixtures: `realnodes` (the running cluster, see RealNodes) and `namespace` (a fresh namespace per test,
deleted afterwards). Reusable by other test packages through `pytest_plugins = ["tests.realnodes.conftest"]`
or by importing them. `figure()` prints a measured figure and keeps it in FIGURES, because pytest-xdist's
workers do not show what tests print.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import realnodes as realnodes_cli
from playbook_run import REPO, PlaybookRun

FIGURES = REPO / "tests" / "output" / "realnodes" / "figures.txt"


def figure(text: str) -> None:
    """A figure a test measured: printed (pytest -s) and appended to FIGURES, which the tier shows."""
    print(text)
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    with FIGURES.open("a", encoding="utf-8") as out:
        out.write(text.strip() + "\n")


class RealNodes:
    """The running cluster, with the few helpers the tests share."""

    def __init__(self, cluster: realnodes_cli.Cluster) -> None:
        self.cluster = cluster
        self.nodes = cluster.nodes
        self.images = cluster.description()["images"]

    def kubectl(self, *args: str, check: bool = True, timeout: float = 120, stdin: str | None = None) -> str:
        kubectl = Path(self.cluster.description()["node_artifacts"]) / "kubectl"
        done = subprocess.run(
            [str(kubectl), "--kubeconfig", str(self.cluster.kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def apply(self, *manifests: dict) -> None:
        self.kubectl("apply", "--filename", "-", stdin="\n---\n".join(json.dumps(m) for m in manifests))

    def get(self, *args: str) -> dict:
        return json.loads(self.kubectl("get", *args, "--output", "json"))

    def live_pods(self, namespace: str, selector: str) -> list[dict]:
        """The pods the selector matches that are not being deleted, by name."""
        pods = self.get("pods", "-n", namespace, "-l", selector)["items"]
        return sorted(
            (p for p in pods if not p["metadata"].get("deletionTimestamp")),
            key=lambda p: p["metadata"]["name"],
        )

    def wait(self, describe: str, condition, timeout: float = 180, interval: float = 2):
        """Polls `condition()` until it returns something truthy; fails naming `describe`."""
        deadline = time.monotonic() + timeout
        while True:
            result = condition()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {describe}")
            time.sleep(interval)

    def on_node(self, node: str, *argv: str) -> subprocess.CompletedProcess:
        """A command in the node's own shell (podman exec), as an operator logged in there runs it."""
        return realnodes_cli.run(["podman", "exec", node, *argv], check=False, timeout=60)

    def node_addresses(self) -> dict[str, str]:
        return {
            node["metadata"]["name"]: next(
                a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"
            )
            for node in self.get("nodes")["items"]
        }


@dataclass
class DeployedExample:
    """An example inventory's application deployed by a test: its namespace, the extra vars that point the
    example at this cluster, and the first playbook run."""

    namespace: str
    extra_vars: dict
    first: PlaybookRun


@pytest.fixture(scope="session")
def realnodes() -> Iterator[RealNodes]:
    cluster = realnodes_cli.Cluster(os.environ.get("RK_REALNODES_NAME", "rk-realnodes"))
    was_running = bool(cluster.container_states()) and cluster.kubeconfig.is_file() and cluster.api_answers()
    # A kept cluster may be left with a node a test killed: the next start brings it back.
    keep = was_running or os.environ.get("RK_REALNODES_KEEP") == "1"
    try:
        cluster.start()
        yield RealNodes(cluster)
    except realnodes_cli.Problem as problem:
        pytest.fail(f"realnodes cluster: {problem}", pytrace=False)
    finally:
        if not keep:
            cluster.stop()


@pytest.fixture(scope="module", autouse=True)
def every_node_up_for_the_module(realnodes: RealNodes) -> None:
    """every_node_up before a module's own module-scoped fixtures, which pytest sets up before any
    function-scoped one (test_node_dns.py's node_inventory runs commands on every node)."""
    realnodes.cluster.restore_lost_nodes()


@pytest.fixture(autouse=True)
def every_node_up(realnodes: RealNodes) -> None:
    """A node a test killed (test_node_loss.py) comes back before the next test, not at the end of its own:
    after the last test the cluster is removed, so nothing waits for a node only to delete it."""
    realnodes.cluster.restore_lost_nodes()


@pytest.fixture
def namespace(realnodes: RealNodes) -> Iterator[str]:
    name = f"rn-{uuid.uuid4().hex[:6]}"
    realnodes.kubectl("create", "namespace", name)
    yield name
    realnodes.kubectl("delete", "namespace", name, "--wait=false")
