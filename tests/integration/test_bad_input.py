"""Bad input to the license and drill modules on the real control plane: refused with one message naming the
option, no traceback, and nothing changed - no object stored, no pod disrupted. (The app and app_info cases
are in test_app.py, whose helpers these share.)"""

from __future__ import annotations

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


@pytest.mark.parametrize(
    ("topology", "option", "message"),
    [
        ("cluster", {"side": "b"}, "side: b picks a server of a pair, but app mini is a cluster"),
        ("pair", {"member": 1}, "member: 1 picks a member of a cluster, but app mini is a pair"),
    ],
)
def test_drill_with_an_option_its_topology_has_no_use_for_disrupts_nothing_simulated_kubelet(
    kube_cluster, resources, namespace, topology, option, message
):
    app_args = {
        "kubeconfig": kube_cluster.kubeconfig,
        "name": "mini",
        "namespace": namespace,
        "topology": topology,
        "replicas": 2,
        "server": {"image": "busybox:1.36"},
        "wait_timeout": 120,
    }
    deployed = app(kube_cluster, app_args)
    assert not deployed.failed, deployed.result
    before = server_pod_uids(resources, "mini", namespace)
    for mode in ({"check": True}, {}):
        run = run_module(
            "drill",
            {
                "kubeconfig": kube_cluster.kubeconfig,
                "name": "mini",
                "namespace": namespace,
                "step": "delete_pod",
                **option,
            },
            **mode,
        )
        assert run.failed and message in run.result["msg"], run.result
        assert "Traceback" not in run.stdout + run.stderr
    assert server_pod_uids(resources, "mini", namespace) == before
