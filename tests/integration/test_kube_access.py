"""The access layer against the real kube-apiserver/scheduler/controllers (kubelets simulated by kwok)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from ansible_run import run_module

from ansible_collections.redundant.kube.plugins.module_utils.kube.client import (
    ConnectionSettings,
    KubeError,
    api_client_from_settings,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import Resources
from ansible_collections.redundant.kube.plugins.module_utils.kube.waiter import wait_for_ready


def deployment(name: str, namespace: str, replicas: int = 2, **pod_spec) -> dict:
    labels = {"app": name}
    spec = {"containers": [{"name": "main", "image": "registry.invalid/app:1.0"}], **pod_spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": spec},
        },
    }


def test_apply_returns_server_state_and_is_idempotent(resources: Resources, namespace: str):
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": namespace},
        "data": {"a": "1"},
    }
    first = resources.apply(cm)
    assert first["metadata"]["uid"]
    assert first["metadata"]["managedFields"][0]["manager"] == "redundant.kube"
    again = resources.apply(cm)
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    cm["data"]["a"] = "2"
    changed = resources.apply(cm)
    assert changed["metadata"]["resourceVersion"] != first["metadata"]["resourceVersion"]


def test_dry_run_changes_nothing(resources: Resources, namespace: str):
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "dry", "namespace": namespace},
        "data": {},
    }
    answer = resources.apply(cm, dry_run=True)
    assert answer["metadata"]["name"] == "dry"
    assert resources.get("v1", "ConfigMap", "dry", namespace) is None


def test_server_defaults_and_real_scheduling(resources: Resources, namespace: str):
    applied = resources.apply(deployment("web", namespace, replicas=3))
    assert applied["spec"]["strategy"]["type"] == "RollingUpdate"  # defaulted by the server
    assert applied["spec"]["revisionHistoryLimit"] == 10
    [done] = wait_for_ready(resources, [applied], timeout=60)
    assert done["status"]["readyReplicas"] == 3
    pods = resources.list("v1", "Pod", namespace, label_selector="app=web")
    assert len(pods) == 3
    assert all(p["spec"]["nodeName"].startswith("node-") for p in pods)  # bound by the real scheduler


def test_unschedulable_pod_fails_with_scheduler_reason(resources: Resources, namespace: str):
    applied = resources.apply(
        deployment("nowhere", namespace, replicas=1, nodeSelector={"disk": "none-has-it"})
    )
    with pytest.raises(KubeError) as err:
        wait_for_ready(resources, [applied], timeout=4)
    message = str(err.value)
    assert "nodes are available" in message
    assert "node affinity/selector" in message or "didn't match" in message
    assert f"Deployment {namespace}/nowhere" in message


def test_rejected_object_is_reported_with_server_message(resources: Resources, namespace: str):
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name", "namespace": namespace}}
    with pytest.raises(KubeError, match=r"rejected ConfigMap .*/Bad_Name: .*RFC 1123"):
        resources.apply(bad)


def test_discovery_of_a_kind_outside_the_static_table(resources: Resources):
    lease_type = resources.resource_type("coordination.k8s.io/v1", "Lease")
    assert lease_type.plural == "leases" and lease_type.namespaced
    with pytest.raises(KubeError, match="kind Nonsense is not served"):
        resources.resource_type("apps/v1", "Nonsense")


def test_wrong_context_is_one_line(kube_cluster):
    with pytest.raises(KubeError) as err:
        api_client_from_settings(
            ConnectionSettings(kubeconfig=kube_cluster.kubeconfig, context="nope"), environ={}
        )
    assert str(err.value).startswith("context 'nope' is not in kubeconfig")
    assert "use one of" in str(err.value)


def test_rejected_token_says_401(kube_cluster, tmp_path):
    config = yaml.safe_load(Path(kube_cluster.kubeconfig).read_text())
    for user in config["users"]:
        user["user"] = {"token": "expired-or-wrong"}
    path = tmp_path / "bad-token.yaml"
    path.write_text(yaml.safe_dump(config))
    client = api_client_from_settings(
        ConnectionSettings(kubeconfig=str(path), validate_certs=False), environ={}
    )
    with pytest.raises(KubeError, match=r"rejected the credentials \(401 Unauthorized\)"):
        Resources(client).list("v1", "Namespace")


def test_unreachable_server_is_one_line(tmp_path):
    client = api_client_from_settings(
        ConnectionSettings(host="https://127.0.0.1:1", validate_certs=False), environ={}
    )
    with pytest.raises(
        KubeError, match=r"cannot reach the Kubernetes API server at https://127.0.0.1:1"
    ) as err:
        Resources(client).list("v1", "Namespace")
    assert "(after 5 retries over " in str(err.value) and "\n" not in str(err.value)


def test_cluster_info_module_verifies_nodes(kube_cluster):
    run = run_module(
        "cluster_info",
        {"kubeconfig": kube_cluster.kubeconfig, "expected_nodes": ["node-1", "node-2", "node-3"]},
    )
    result = run.result
    assert not run.failed, result
    assert result["server_version"].startswith("v1.")
    assert [n["name"] for n in result["nodes"]] == ["node-1", "node-2", "node-3"]
    assert result["default_storage_class"] == "standard"


def test_cluster_info_names_missing_node(kube_cluster):
    run = run_module(
        "cluster_info", {"kubeconfig": kube_cluster.kubeconfig, "expected_nodes": ["node-1", "node-7"]}
    )
    result = run.result
    assert run.failed
    assert (
        result["msg"]
        == "1 expected node(s) not ready: node node-7 has not joined: no Node object with that name (check its kubelet/agent)"
    )


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ({}, {"HOME": "/nonexistent", "KUBECONFIG": ""}, "no Kubernetes connection"),
        ({"context": "nope"}, {}, "context 'nope' is not in kubeconfig"),
        (
            {"host": "https://127.0.0.1:1", "validate_certs": False},
            {},
            "cannot reach the Kubernetes API server",
        ),
    ],
    ids=["no-kubeconfig", "wrong-context", "unreachable"],
)
def test_module_connection_errors_are_one_line_without_traceback(kube_cluster, args, env, expected):
    if "context" in args:
        args = {**args, "kubeconfig": kube_cluster.kubeconfig}
    run = run_module("cluster_info", args, env=env)
    result = run.result
    assert run.failed
    assert expected in result["msg"]
    assert "\n" not in result["msg"]
    assert "Traceback" not in run.stdout + run.stderr
    assert "module_stderr" not in result


def test_lost_node_simulated_kubelet_is_marked_unreachable(make_cluster):
    """The fixture's node loss: the real node lifecycle controller notices missing heartbeats."""
    cluster = make_cluster(nodes=2)
    res = Resources(api_client_from_settings(ConnectionSettings(kubeconfig=cluster.kubeconfig), environ={}))
    cluster.set_kubelet("node-2", running=False)
    deadline = time.monotonic() + 60
    effects: set = set()
    # The controller adds the NoSchedule and NoExecute taints in separate updates: wait for both.
    while time.monotonic() < deadline and effects != {"NoSchedule", "NoExecute"}:
        node = res.get("v1", "Node", "node-2")
        effects = {
            t["effect"]
            for t in node["spec"].get("taints", [])
            if t["key"] == "node.kubernetes.io/unreachable"
        }
        time.sleep(0.5)
    assert effects == {"NoSchedule", "NoExecute"}
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "Unknown"
    cluster.set_kubelet("node-2", running=True)
    cluster.wait_nodes_ready(["node-2"])
