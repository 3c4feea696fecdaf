"""Fixtures for integration tests: a real control plane (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler built from the upstream Go modules) with kubelets simulated by kwok.

`kube_cluster` is one session-wide cluster with 3 Ready nodes; `make_cluster(nodes=N)` starts another
cluster with N nodes for tests that need a different shape (torn down at session end).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cluster"))
from local_cluster import LocalCluster, binaries

from ansible_collections.redundant.kube.plugins.module_utils.kube.client import (
    ConnectionSettings,
    api_client_from_settings,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import Resources


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "kube_cluster" in getattr(item, "fixturenames", ()) or "make_cluster" in getattr(
            item, "fixturenames", ()
        ):
            item.add_marker(pytest.mark.cluster)


def _name(prefix: str) -> str:
    # Unique per run so parallel runs (developer + CI on one machine) never share a cluster.
    return f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:4]}"


@pytest.fixture(scope="session")
def make_cluster() -> Iterator[Callable[..., LocalCluster]]:
    bindir = binaries()
    started: list[LocalCluster] = []

    def start(nodes: int = 3) -> LocalCluster:
        cluster = LocalCluster(_name("rk-test"), bindir)
        started.append(cluster)  # before start(): a failed start is still torn down
        return cluster.start(nodes)

    yield start
    for cluster in started:
        cluster.stop()


@pytest.fixture(scope="session")
def kube_cluster(make_cluster: Callable[..., LocalCluster]) -> LocalCluster:
    return make_cluster(nodes=3)


@pytest.fixture(scope="session")
def resources(kube_cluster: LocalCluster) -> Resources:
    return Resources(api_client_from_settings(ConnectionSettings(kubeconfig=kube_cluster.kubeconfig)))


@pytest.fixture
def namespace(resources: Resources, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards."""
    name = f"t-{request.node.name[:40].lower().replace('_', '-').strip('-')}-{uuid.uuid4().hex[:5]}"
    name = "".join(c for c in name if c.isalnum() or c == "-")
    resources.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    resources.delete("v1", "Namespace", name)
