"""The cluster check (redundant.kube.cluster_info with expected_nodes) on the local control plane: a
Node that was deleted, and a node whose kubelet stopped, are each named with the reason the cluster
reports. Kubelets are simulated by kwok (hence simulated_kubelet in the names); the API server, the
node lifecycle controller that marks a silent node NotReady, and the module are real."""

from __future__ import annotations

import time

import pytest
from ansible_run import run_module


@pytest.fixture(scope="module")
def cluster(make_cluster):
    # A cluster of its own: these tests delete and break nodes the shared one must keep.
    return make_cluster(nodes=3)


def check(cluster, expected: list[str]):
    return run_module("cluster_info", {"kubeconfig": cluster.kubeconfig, "expected_nodes": expected})


def test_deleted_node_simulated_kubelet_is_named_as_not_joined(cluster):
    before = check(cluster, ["node-1", "node-2", "node-3"])
    assert not before.failed, before.result
    cluster.kubectl_run("delete", "node", "node-3", "--wait=true")
    after = check(cluster, ["node-1", "node-2", "node-3"])
    assert after.failed
    assert after.result["msg"] == (
        "1 expected node(s) not ready: node node-3 has not joined: no Node object with that name (check its kubelet/agent)"
    )
    assert after.result["problems"] == [
        "node node-3 has not joined: no Node object with that name (check its kubelet/agent)"
    ]
    assert [n["name"] for n in after.result["nodes"]] == ["node-1", "node-2"]


def test_stopped_simulated_kubelet_is_named_not_ready_with_the_controller_reason(cluster):
    cluster.set_kubelet("node-2", running=False)
    # The node lifecycle controller marks a node whose kubelet stopped posting status after the grace
    # period (8 s on the local control plane); poll the module until it reports that.
    deadline = time.monotonic() + 60
    while True:
        result = check(cluster, ["node-1", "node-2"])
        if result.failed or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert result.failed, "node-2 still Ready 60 s after its kubelet stopped"
    assert result.result["problems"] == ["node node-2 is not Ready: NodeStatusUnknown"]
    assert result.result["msg"] == "1 expected node(s) not ready: node node-2 is not Ready: NodeStatusUnknown"
    cluster.set_kubelet("node-2", running=True)
