"""Bad input to the license and drill modules on the real control plane: refused with one message naming the
option, no traceback, and nothing changed - no object stored, no pod disrupted. (The app and app_info cases
are in test_app.py, whose helpers these share.)"""

from __future__ import annotations

import time

import pytest
from ansible_run import run_module
from test_app import SELECTOR, app, assert_refused, cluster_state

from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import Resources


@pytest.mark.parametrize("namespace_exists", [False, True])
def test_license_with_a_malformed_selector_stores_nothing(
    kube_cluster, resources, namespace, namespace_exists
):
    before = cluster_state(resources)
    args = {
        "kubeconfig": kube_cluster.kubeconfig,
        "name": "dolphindb-license",
        "namespace": namespace if namespace_exists else "rk-new-license-ns",
        "key": "dolphindb.lic",
        "content": "LICENSE-1",
        "consumers": {"selector": "app in ("},
    }
    run = run_module("license", args)
    assert_refused(run, "consumers.selector 'app in ('", before, resources)
    assert resources.get("v1", "ConfigMap", "dolphindb-license", args["namespace"]) is None


@pytest.mark.parametrize("wait_timeout", [-5, 0])
def test_license_and_drill_refuse_a_wait_timeout_of_zero_or_less(
    kube_cluster, resources, namespace, wait_timeout
):
    before = cluster_state(resources)
    common = {"kubeconfig": kube_cluster.kubeconfig, "namespace": namespace, "wait_timeout": wait_timeout}
    license_run = run_module(
        "license",
        {
            **common,
            "name": "lic",
            "key": "dolphindb.lic",
            "content": "LICENSE-1",
            "consumers": {"selector": "app=x"},
        },
    )
    assert_refused(license_run, "wait_timeout must be more than 0", before, resources)
    drill_run = run_module("drill", {**common, "name": "x", "step": "delete_pod"})
    assert_refused(drill_run, "wait_timeout must be more than 0", before, resources)


def server_pod_uids(resources: Resources, name: str, namespace: str) -> dict[str, str]:
    pods = resources.list("v1", "Pod", namespace, label_selector=SELECTOR.format(name))
    return {
        p["metadata"]["name"]: p["metadata"]["uid"]
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
    }


def deploy_mini(kube_cluster, namespace: str, topology: str, replicas: int) -> None:
    args = {
        "kubeconfig": kube_cluster.kubeconfig,
        "name": "mini",
        "namespace": namespace,
        "topology": topology,
        "replicas": replicas,
        "server": {"image": "busybox:1.36"},
        "wait_timeout": 120,
    }
    deployed = app(kube_cluster, args)
    assert not deployed.failed, deployed.result


def drill_mini(kube_cluster, namespace: str, options: dict, check: bool = False):
    args = {
        "kubeconfig": kube_cluster.kubeconfig,
        "name": "mini",
        "namespace": namespace,
        "step": "delete_pod",
    }
    return run_module("drill", {**args, **options}, check=check)


@pytest.mark.parametrize(
    ("topology", "option", "message", "server_workload"),
    [
        (
            "cluster",
            {"side": "b"},
            "side: b picks a server of a pair, but app mini is a cluster",
            ("StatefulSet", "mini-server", 1),
        ),
        (
            "pair",
            {"member": 1},
            "member: 1 picks a member of a cluster, but app mini is a pair",
            ("Deployment", "mini-server-b", 0),
        ),
    ],
)
def test_drill_with_an_option_its_topology_has_no_use_for_disrupts_nothing_simulated_kubelet(
    kube_cluster, resources, namespace, topology, option, message, server_workload
):
    deploy_mini(kube_cluster, namespace, topology, replicas=2)
    before = server_pod_uids(resources, "mini", namespace)
    for check in (True, False):
        run = drill_mini(kube_cluster, namespace, option, check=check)
        assert run.failed and message in run.result["msg"], run.result
        assert "Traceback" not in run.stdout + run.stderr
    assert server_pod_uids(resources, "mini", namespace) == before

    # Made not redundant, the app would be waited for up to wait_timeout; no wait can make the option apply,
    # so it is refused on the first look at the app.
    kind, name, replicas = server_workload
    resources.merge_patch("apps/v1", kind, name, namespace, {"spec": {"replicas": replicas}})
    started = time.monotonic()
    run = drill_mini(kube_cluster, namespace, {**option, "wait_timeout": 120})
    took = time.monotonic() - started
    assert run.failed and message in run.result["msg"], run.result
    assert took < 60, f"took {took:.0f}s"
