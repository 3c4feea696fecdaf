"""redundant.kube.app and app_info on the real control plane (real kube-apiserver, scheduler and controllers;
kubelets simulated by kwok: pods become Running and Ready without containers). Tests whose assertions rely
on pods being started by the simulated kubelets carry `simulated_kubelet` in their name.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml
from ansible_run import BIN, REPO, ansible_environment, run_module

from ansible_collections.redundant.kube.plugins.module_utils.kube.objects import (
    checksum_annotation_key,
    content_digest,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import Resources

CASES = Path(__file__).resolve().parents[1] / "unit" / "plugins" / "module_utils" / "app" / "cases"
SELECTOR = "app.kubernetes.io/instance={},app.kubernetes.io/managed-by=redundant.kube"
APP_KINDS = [
    ("v1", "ConfigMap"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "Service"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("policy/v1", "PodDisruptionBudget"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("networking.k8s.io/v1", "Ingress"),
]


def case(name: str, namespace: str, **changes) -> dict:
    params = yaml.safe_load((CASES / f"{name}.yml").read_text())
    params.update({"namespace": namespace, "wait_timeout": 90, **changes})
    return params


def app(cluster, args: dict, check: bool = False, diff: bool = False):
    return run_module("app", {**args, "kubeconfig": cluster.kubeconfig}, check=check, diff=diff)


def app_info(cluster, name: str, namespace: str) -> dict:
    run = run_module("app_info", {"name": name, "namespace": namespace, "kubeconfig": cluster.kubeconfig})
    assert not run.failed, run.result
    return run.result


def app_objects(resources: Resources, name: str, namespace: str) -> list[str]:
    found = []
    for api_version, kind in APP_KINDS:
        for obj in resources.list(api_version, kind, namespace, label_selector=SELECTOR.format(name)):
            found.append(f"{kind}/{obj['metadata']['name']}")
    return sorted(found)


def pods_by_deployment(resources: Resources, name: str, namespace: str) -> dict[str, list[dict]]:
    """Live pods of the app, keyed by workload-side (e.g. server-a)."""
    pods: dict[str, list[dict]] = {}
    for pod in resources.list("v1", "Pod", namespace, label_selector=SELECTOR.format(name)):
        if pod["metadata"].get("deletionTimestamp"):
            continue
        labels = pod["metadata"]["labels"]
        key = labels["app.kubernetes.io/component"] + (
            f"-{labels['redundant.kube/side']}" if "redundant.kube/side" in labels else ""
        )
        pods.setdefault(key, []).append(pod)
    return pods


def d2000_prerequisites(resources: Resources, namespace: str, license_text: str = "LICENCE-1") -> None:
    """What the license module and the operator create before the app: license ConfigMap, DB Secret."""
    resources.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "d2000-license", "namespace": namespace},
            "data": {"LicenceRun.code": license_text},
        }
    )
    resources.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "d2000-db", "namespace": namespace},
            "type": "Opaque",
            "data": {"PGPASSWORD": "c2VjcmV0"},
        }
    )


def wait_until(predicate, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def assert_pair_placement(resources: Resources, name: str, namespace: str, workloads: list[str]) -> None:
    pods = pods_by_deployment(resources, name, namespace)
    node = {key: [p["spec"]["nodeName"] for p in value] for key, value in pods.items()}
    assert len(node["server-a"]) == 1 and len(node["server-b"]) == 1
    assert node["server-a"][0] != node["server-b"][0], node
    for workload in workloads:
        for side in ("a", "b"):
            assert node[f"{workload}-{side}"] == node[f"server-{side}"], (workload, side, node)


def assert_init_containers(
    resources: Resources, name: str, namespace: str, expected: dict[str, list[str]]
) -> None:
    """Every live pod of the app has the init containers its workload names (by component), in order; the API
    server has admitted them, so their mounts name the pod's own volumes."""
    pods = resources.list("v1", "Pod", namespace, label_selector=SELECTOR.format(name))
    assert pods
    for pod in pods:
        component = pod["metadata"]["labels"]["app.kubernetes.io/component"]
        inits = pod["spec"].get("initContainers", [])
        assert [c["name"] for c in inits] == expected.get(component, []), (pod["metadata"]["name"], inits)


# -- pair --------------------------------------------------------------------------------------------
def test_d2000_pair_simulated_kubelet_placement_idempotence_check_mode(kube_cluster, resources, namespace):
    d2000_prerequisites(resources, namespace)
    args = case("d2000_pair", namespace)

    check = app(kube_cluster, args, check=True)
    assert not check.failed, check.result
    assert check.result["changed"] is True
    assert app_objects(resources, "d2000", namespace) == [], "check mode wrote objects"

    first = app(kube_cluster, args)
    assert not first.failed, first.result
    assert first.result["changed"] is True
    assert {o["action"] for o in first.result["objects"] if o["kind"] != "Namespace"} == {"created"}
    assert_pair_placement(resources, "d2000", namespace, ["clc", "evh", "eds", "kom", "arc"])
    # The module's odbc.ini copy first, in the workloads that get odbc (server, arc), then the case's own.
    assert_init_containers(
        resources, "d2000", namespace, {"server": ["rk-odbc-ini", "log-dirs"], "arc": ["rk-odbc-ini"]}
    )
    arc_b = pods_by_deployment(resources, "d2000", namespace)["arc-b"][0]["metadata"]["labels"]
    assert arc_b["redundant.kube/role"] == "passive" and arc_b["redundant.kube/instance-number"] == "2"
    assert len(first.result["pods"]) == 12
    policy = resources.get("networking.k8s.io/v1", "NetworkPolicy", "d2000-egress", namespace)
    assert {
        "to": [{"ipBlock": {"cidr": "10.20.0.5/32"}}],
        "ports": [{"protocol": "TCP", "port": 5432}],
    } in policy["spec"]["egress"]
    odbc = resources.get("v1", "ConfigMap", "d2000-odbc", namespace)["data"]["odbc.ini"]
    assert odbc.count("KeepaliveInterval = 60") == 2

    second = app(kube_cluster, args)
    assert not second.failed, second.result
    assert second.result["changed"] is False
    assert {o["action"] for o in second.result["objects"]} == {"unchanged"}

    # Check mode with a real change: reported with a diff, nothing written.
    changed = copy.deepcopy(args)
    changed["server"]["image"] = "registry.example/d2000/server:26.0.2"
    before = resources.get("apps/v1", "Deployment", "d2000-server-a", namespace)
    check = app(kube_cluster, changed, check=True, diff=True)
    assert check.result["changed"] is True
    assert (
        "server:26.0.2" in check.result["diff"]["after"] and "server:26.0.1" in check.result["diff"]["before"]
    )
    after = resources.get("apps/v1", "Deployment", "d2000-server-a", namespace)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_config_change_rolls_only_mounting_pods_simulated_kubelet(kube_cluster, resources, namespace):
    d2000_prerequisites(resources, namespace)
    args = case("d2000_pair", namespace)
    assert not app(kube_cluster, args).failed
    before = {
        k: v[0]["metadata"]["uid"] for k, v in pods_by_deployment(resources, "d2000", namespace).items()
    }

    args["config_files"][2]["content"] = "application.name=renamed\n"  # mounted by server and arc only
    run = app(kube_cluster, args)
    assert not run.failed, run.result
    updated = sorted(o["name"] for o in run.result["objects"] if o["action"] == "updated")
    assert updated == [
        "d2000-arc-a",
        "d2000-arc-b",
        "d2000-cfg-opt-d2000-app-demo-application-properties",
        "d2000-server-a",
        "d2000-server-b",
    ]
    after = {k: v[0]["metadata"]["uid"] for k, v in pods_by_deployment(resources, "d2000", namespace).items()}
    rolled = sorted(k for k in before if before[k] != after[k])
    assert rolled == ["arc-a", "arc-b", "server-a", "server-b"]


def test_license_push_then_unchanged_app_run_restarts_nothing_simulated_kubelet(
    kube_cluster, resources, namespace
):
    d2000_prerequisites(resources, namespace)
    args = case("d2000_pair", namespace)
    assert not app(kube_cluster, args).failed
    # What the license module does: new content, then the shared checksum annotation on its consumers.
    new = resources.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "d2000-license", "namespace": namespace},
            "data": {"LicenceRun.code": "LICENCE-2"},
        }
    )
    key = checksum_annotation_key("ConfigMap", "d2000-license")
    for side in ("a", "b"):
        resources.merge_patch(
            "apps/v1",
            "Deployment",
            f"d2000-server-{side}",
            namespace,
            {"spec": {"template": {"metadata": {"annotations": {key: content_digest(new)}}}}},
        )
    wait_until(
        lambda: (
            all(len(p) == 1 for p in pods_by_deployment(resources, "d2000", namespace).values())
            and not app(kube_cluster, {**args, "wait": False}, check=True).result["changed"]
        ),
        what="license rollout",
    )
    uids = {k: v[0]["metadata"]["uid"] for k, v in pods_by_deployment(resources, "d2000", namespace).items()}
    run = app(kube_cluster, args)
    assert not run.failed, run.result
    assert run.result["changed"] is False
    assert {
        k: v[0]["metadata"]["uid"] for k, v in pods_by_deployment(resources, "d2000", namespace).items()
    } == uids


def test_removal_keeps_claims_unless_asked(kube_cluster, resources, namespace):
    d2000_prerequisites(resources, namespace)
    args = case("d2000_pair", namespace)
    assert not app(kube_cluster, args).failed
    absent = {"name": "d2000", "namespace": namespace, "state": "absent"}
    check = app(kube_cluster, absent, check=True)
    assert check.result["changed"] is True
    assert len(app_objects(resources, "d2000", namespace)) > 2
    run = app(kube_cluster, absent)
    assert not run.failed, run.result
    assert run.result["kept_volumes"] == ["d2000-log-a", "d2000-log-b"]
    assert app_objects(resources, "d2000", namespace) == [
        "PersistentVolumeClaim/d2000-log-a",
        "PersistentVolumeClaim/d2000-log-b",
    ]
    assert resources.list("v1", "Pod", namespace, label_selector=SELECTOR.format("d2000")) == []
    assert resources.get("v1", "ConfigMap", "d2000-license", namespace) is not None, (
        "removed an object it does not own"
    )
    again = app(kube_cluster, {**absent, "delete_volumes": True})
    assert again.result["changed"] is True
    assert app_objects(resources, "d2000", namespace) == []
    assert app(kube_cluster, {**absent, "delete_volumes": True}).result["changed"] is False


def test_pair_on_one_node_fails_fast_with_the_schedulers_reason(make_cluster):
    single_node = make_cluster(nodes=1)
    res = Resources_for(single_node)
    res.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "scada"}})
    d2000_prerequisites(res, "scada")
    started = time.monotonic()
    run = app(single_node, case("d2000_pair", "scada", wait_timeout=300))
    took = time.monotonic() - started
    assert run.failed
    message = run.result["msg"]
    assert "cannot become ready, whatever the wait" in message, message
    assert "didn't match pod anti-affinity rules" in message, message
    assert "need two nodes with different kubernetes.io/hostname" in message
    assert "\n" not in message
    # The run starts ansible, renders and applies (a few seconds on an idle machine), then must stop within
    # seconds of the scheduler's verdict - not after wait_timeout.
    assert took < 60, f"took {took:.0f}s"
    info = app_info(single_node, "d2000", "scada")
    assert any(
        "didn't match pod anti-affinity rules" in r and "the nodes they may use have 1" in r
        for r in info["reasons"]
    ), info["reasons"]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"node_selector": {"disk": "ssd"}}, "no node of the cluster has disk=ssd"),
        (
            {
                "volumes": [
                    {
                        "name": "sys",
                        "mount_path": "/external",
                        "size": "1Gi",
                        "storage_class": "no-such-class",
                    }
                ]
            },
            "asks for StorageClass no-such-class, which does not exist",
        ),
    ],
)
def test_impossible_placement_fails_fast(kube_cluster, namespace, change, fragment):
    args = case("iris_single", namespace, wait_timeout=300)
    args["volumes"][0]["storage_class"] = "replicated"
    args.update(change)
    started = time.monotonic()
    run = app(kube_cluster, args)
    took = time.monotonic() - started
    assert run.failed and fragment in run.result["msg"], run.result
    assert "cannot become ready, whatever the wait" in run.result["msg"]
    assert took < 60, f"took {took:.0f}s"
    assert any(fragment in r for r in app_info(kube_cluster, "iris", namespace)["reasons"])


def Resources_for(cluster) -> Resources:
    from ansible_collections.redundant.kube.plugins.module_utils.kube.client import (
        ConnectionSettings,
        api_client_from_settings,
    )

    return Resources(api_client_from_settings(ConnectionSettings(kubeconfig=cluster.kubeconfig)))


# -- rejection: nothing of the run stays -------------------------------------------------------------
def quota(resources: Resources, namespace: str, hard: dict) -> None:
    wait_until(
        lambda: resources.get("v1", "ConfigMap", "kube-root-ca.crt", namespace), what="kube-root-ca.crt"
    )
    resources.apply(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "limit", "namespace": namespace},
            "spec": {"hard": hard},
        }
    )
    # Admission refuses everything until the quota controller has counted the namespace.
    wait_until(
        lambda: (
            (resources.get("v1", "ResourceQuota", "limit", namespace) or {}).get("status", {}).get("used")
        ),
        what="quota usage",
    )


def test_object_rejected_by_dry_run_writes_nothing(kube_cluster, resources, namespace):
    d2000_prerequisites(resources, namespace)
    quota(resources, namespace, {"services": "0"})  # refuses even the dry-run of the first Service
    run = app(kube_cluster, case("d2000_pair", namespace))
    assert run.failed
    assert "exceeded quota" in run.result["msg"]
    assert app_objects(resources, "d2000", namespace) == []


def test_object_rejected_partway_rolls_back_the_run(kube_cluster, resources, namespace):
    d2000_prerequisites(resources, namespace)
    # Each dry-run is checked against current usage alone, so all pass; the real writes then hit the limit
    # at the third ConfigMap (the namespace already holds kube-root-ca.crt and the license).
    quota(resources, namespace, {"configmaps": "4"})
    run = app(kube_cluster, case("d2000_pair", namespace))
    assert run.failed
    assert "exceeded quota" in run.result["msg"] and "rolled back" in run.result["msg"], run.result["msg"]
    assert app_objects(resources, "d2000", namespace) == []


def test_rejected_in_new_namespace_removes_the_namespace(kube_cluster, resources):
    args = case("iris_single", "rk-new-ns-rejected", wait=False)
    args["volumes"][0]["storage_class"] = "replicated"
    # Only the server knows its node-port range (--service-node-port-range): nothing local can refuse this.
    args["services"] = [{"type": "NodePort", "ports": [{"name": "smp-http", "port": 52773, "node_port": 80}]}]
    run = app(kube_cluster, args)
    assert run.failed
    assert "provided port is not in the valid range" in run.result["msg"], run.result["msg"]
    assert resources.get("v1", "Namespace", "rk-new-ns-rejected") is None, (
        "the namespace this run created stayed"
    )


# -- single ------------------------------------------------------------------------------------------
def test_iris_single_simulated_kubelet_and_volume_growth_procedure(kube_cluster, resources, namespace):
    args = case("iris_single", namespace)
    args["volumes"][0]["storage_class"] = "replicated"
    first = app(kube_cluster, args)
    assert not first.failed, first.result
    deployment = resources.get("apps/v1", "Deployment", "iris-iris", namespace)
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    tolerations = deployment["spec"]["template"]["spec"]["tolerations"]
    assert {t["key"]: t["tolerationSeconds"] for t in tolerations} == {
        "node.kubernetes.io/not-ready": 30,
        "node.kubernetes.io/unreachable": 30,
    }
    assert resources.get("v1", "PersistentVolumeClaim", "iris-sys", namespace)["status"]["phase"] == "Bound"
    assert_init_containers(resources, "iris", namespace, {"iris": ["data-owner"]})
    assert app(kube_cluster, args).result["changed"] is False

    grown = copy.deepcopy(args)
    grown["volumes"][0]["size"] = "12Gi"
    check = app(kube_cluster, grown, check=True)
    assert check.result["volume_growth"] == [
        "would grow claim iris-sys from 10Gi to 12Gi with its workloads scaled to 0"
    ]
    assert (
        resources.get("v1", "PersistentVolumeClaim", "iris-sys", namespace)["spec"]["resources"]["requests"][
            "storage"
        ]
        == "10Gi"
    )
    run = app(kube_cluster, grown)
    assert not run.failed, run.result
    steps = run.result["volume_growth"]
    assert steps[0] == "scaled Deployment iris-iris to 0"
    assert steps[-1] == "scaled Deployment iris-iris back"
    claim = resources.get("v1", "PersistentVolumeClaim", "iris-sys", namespace)
    assert claim["spec"]["resources"]["requests"]["storage"] == "12Gi"
    assert resources.get("apps/v1", "Deployment", "iris-iris", namespace)["status"]["readyReplicas"] == 1
    assert app(kube_cluster, grown).result["changed"] is False

    shrink = copy.deepcopy(args)
    shrink["volumes"][0]["size"] = "5Gi"
    run = app(kube_cluster, shrink)
    assert run.failed
    assert "claims cannot shrink: keep size at 12Gi or more" in run.result["msg"]


# -- cluster -----------------------------------------------------------------------------------------
def test_midpoint_cluster_simulated_kubelet_spread_nfs_keystore_init_container(
    kube_cluster, resources, namespace
):
    resources.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "mp-demo-keystore", "namespace": namespace},
            "data": {"keystore.jceks": "AAAA", "keystore": "Y2hhbmdlaXQ="},
        }
    )
    resources.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "mp-demo-db", "namespace": namespace},
            "data": {"password": "Y2hhbmdlLW1l"},
        }
    )
    args = case("midpoint_cluster", namespace)
    args["volumes"][0]["nfs"]["server"] = f"mp-demo-nfs.{namespace}.svc.cluster.local"
    run = app(kube_cluster, args)
    assert not run.failed, run.result
    pods = resources.list("v1", "Pod", namespace, label_selector=SELECTOR.format("midpoint"))
    assert sorted(p["metadata"]["name"] for p in pods) == [f"midpoint-midpoint-{i}" for i in range(3)]
    assert len({p["spec"]["nodeName"] for p in pods}) == 3, "members not spread over the 3 nodes"
    env = pods[0]["spec"]["containers"][0]["env"]
    assert {
        "name": "MEMBER_ID",
        "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}},
    } in env
    volumes = {v["name"]: v for v in pods[0]["spec"]["volumes"]}
    assert volumes["shared"]["nfs"]["server"] == f"mp-demo-nfs.{namespace}.svc.cluster.local"
    assert volumes["rk-keystore"]["secret"]["secretName"] == "mp-demo-keystore"
    assert volumes["db-pass"]["secret"]["secretName"] == "mp-demo-db"
    assert_init_containers(resources, "midpoint", namespace, {"midpoint": ["mp-config-init"]})
    (init,) = pods[0]["spec"]["initContainers"]
    assert init["volumeMounts"][0] == {
        "name": "home",
        "mountPath": "/opt/mp-home",
    }  # then the service account token
    assert volumes["home"]["persistentVolumeClaim"]["claimName"] == f"home-{pods[0]['metadata']['name']}"
    assert resources.get("v1", "Service", "midpoint-members", namespace)["spec"]["clusterIP"] == "None"
    assert resources.get("v1", "Service", "midpoint", namespace)["spec"]["sessionAffinity"] == "ClientIP"
    assert app(kube_cluster, args).result["changed"] is False

    info = app_info(kube_cluster, "midpoint", namespace)
    assert info["redundant"] is True, info["reasons"]
    one = app(kube_cluster, {**args, "replicas": 1})
    assert not one.failed, one.result
    info = app_info(kube_cluster, "midpoint", namespace)
    assert info["redundant"] is False
    assert "midpoint-midpoint has 1 member: a cluster of one is not redundant" in info["reasons"]


def test_midpoint_cluster_nfs_server_as_single_app(kube_cluster, resources, namespace):
    """The in-cluster NFS server of the midPoint cluster, deployed itself as a `single` app."""
    nfs = {
        "name": "mp-demo-nfs",
        "namespace": namespace,
        "topology": "single",
        "server": {
            "name": "nfs",
            "image": "registry.k8s.io/volume-nfs:0.8",
            "privileged": True,
            "ports": [
                {"name": "nfs", "container_port": 2049},
                {"name": "mountd", "container_port": 20048},
                {"name": "rpcbind", "container_port": 111},
            ],
        },
        "volumes": [{"name": "store", "mount_path": "/exports", "size": "256Mi"}],
        "services": [
            {
                "ports": [
                    {"name": "nfs", "port": 2049},
                    {"name": "mountd", "port": 20048},
                    {"name": "rpcbind", "port": 111},
                ]
            }
        ],
    }
    run = app(kube_cluster, nfs)
    assert not run.failed, run.result
    assert resources.get("v1", "Service", "mp-demo-nfs", namespace)["spec"]["selector"] == {
        "app.kubernetes.io/instance": "mp-demo-nfs",
        "app.kubernetes.io/component": "nfs",
    }


# -- rendered ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["d2000_pair", "iris_single", "midpoint_cluster"])
def test_rendered_output_passes_kubectl_server_side_dry_run(kube_cluster, namespace, tmp_path, name):
    args = case(name, namespace, state="rendered", dest=str(tmp_path / "out"))
    run = run_module("app", args)  # no kubeconfig: rendering needs no cluster
    assert not run.failed, run.result
    proc = subprocess.run(
        [
            kube_cluster.kubectl,
            "--kubeconfig",
            kube_cluster.kubeconfig,
            "apply",
            "--server-side",
            "--dry-run=server",
            "-f",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("serverside-applied (server dry run)") == len(run.result["files"])


# -- app_info ----------------------------------------------------------------------------------------
def test_app_info_side_down_simulated_kubelet(kube_cluster, resources, namespace):
    d2000_prerequisites(resources, namespace)
    args = case("d2000_pair", namespace)
    # The label form, for an application that labels its active server (a simulated kubelet runs no exec
    # command; the example's exec check runs on real containers: tests/realnodes/test_d2000_pair.py).
    args["active_probe"] = {"type": "label", "key": "example.com/active"}
    assert not app(kube_cluster, args).failed
    info = app_info(kube_cluster, "d2000", namespace)
    assert info["redundant"] is True, info["reasons"]
    assert info["topology"] == "pair" and len(info["pods"]) == 12
    assert {(p["workload"], p["side"]) for p in info["pods"]} >= {("server", "a"), ("arc", "b")}

    # The application marks its active server; app_info reads it through the recorded active_probe.
    server_a = pods_by_deployment(resources, "d2000", namespace)["server-a"][0]
    resources.merge_patch(
        "v1",
        "Pod",
        server_a["metadata"]["name"],
        namespace,
        {"metadata": {"labels": {"example.com/active": "true"}}},
    )
    info = app_info(kube_cluster, "d2000", namespace)
    assert info["active_side"] == "a"
    assert info["active_pods"] == [server_a["metadata"]["name"]]

    # Side B's pods deleted and kept from coming back: every node but A's cordoned.
    node_a = server_a["spec"]["nodeName"]
    nodes = [n["metadata"]["name"] for n in resources.list("v1", "Node")]
    try:
        for node in nodes:
            if node != node_a:
                resources.merge_patch("v1", "Node", node, None, {"spec": {"unschedulable": True}})
        for pod in resources.list("v1", "Pod", namespace, label_selector="redundant.kube/side=b"):
            resources.delete("v1", "Pod", pod["metadata"]["name"], namespace)
        wait_until(lambda: not app_info(kube_cluster, "d2000", namespace)["redundant"], what="side B down")
        info = app_info(kube_cluster, "d2000", namespace)
        assert any(
            r.startswith("side B is down or degraded: d2000-server-b 0/1 ready") for r in info["reasons"]
        ), info["reasons"]
        assert not any(r.startswith("side A") for r in info["reasons"]), info["reasons"]
    finally:
        for node in nodes:
            resources.merge_patch("v1", "Node", node, None, {"spec": {"unschedulable": None}})


def test_app_info_pdb_deleted(kube_cluster, resources, namespace):
    d2000_prerequisites(resources, namespace)
    assert not app(kube_cluster, case("d2000_pair", namespace)).failed
    resources.delete("policy/v1", "PodDisruptionBudget", "d2000-server", namespace)
    info = app_info(kube_cluster, "d2000", namespace)
    assert info["redundant"] is False
    assert info["reasons"] == ["PodDisruptionBudget missing: a node drain may take every server at once"]


def test_app_info_unbound_claim(kube_cluster, resources, namespace):
    args = case("iris_single", namespace, wait=False)
    args["volumes"][0]["storage_class"] = "no-such-class"
    assert not app(kube_cluster, args).failed
    info = app_info(kube_cluster, "iris", namespace)
    assert info["redundant"] is False
    assert "PersistentVolumeClaim iris-sys is Pending (unbound)" in info["reasons"]
    assert info["claims"][0]["phase"] == "Pending"


def test_app_info_unknown_app(kube_cluster, namespace):
    info = app_info(kube_cluster, "nothing-here", namespace)
    assert info["exists"] is False and info["redundant"] is False


# -- bad input: refused before anything is applied ----------------------------------------------------
def cluster_state(resources: Resources) -> set[str]:
    """Every namespace and every object of the kinds the app writes, cluster-wide: what a run could add."""
    names = {f"Namespace/{n['metadata']['name']}" for n in resources.list("v1", "Namespace")}
    for api_version, kind in APP_KINDS:
        for obj in resources.list(api_version, kind):
            if obj["metadata"]["name"] != "kube-root-ca.crt":  # the root CA publisher's, in every namespace
                names.add(f"{kind}/{obj['metadata']['namespace']}/{obj['metadata']['name']}")
    return names


def assert_refused(run, option: str, before: set[str], resources: Resources) -> None:
    """The three promises for bad input: one message naming the option, no traceback, nothing new."""
    assert run.failed, run.result
    message = run.result["msg"]
    assert option in message and "\n" not in message, message
    # ansible-core marks every fail_json with exception "(traceback unavailable)"; a crash carries one.
    assert "Traceback" not in run.stdout + run.stderr + run.result.get("exception", ""), run.result
    assert cluster_state(resources) - before == set()  # (namespaces of earlier tests may still be going)


def iris_in(namespace: str, change) -> dict:
    args = case("iris_single", namespace)
    args["volumes"][0]["storage_class"] = "replicated"
    change(args)
    return args


BAD_APP_INPUT = {
    "config_files[0].path": lambda a: a["config_files"][0].update(path="/config/../../etc/passwd"),
    "config_files[0].path ": lambda a: a["config_files"][0].update(path="/config/"),
    "server.image": lambda a: a["server"].update(image="x/y:bad tag!"),
    "server.image ": lambda a: a["server"].update(image="Registry/UPPER:1"),
    "server.image  ": lambda a: a["server"].update(image="x/y@sha256:abc"),
    "wait_timeout": lambda a: a.update(wait_timeout=-5),
    "wait_timeout ": lambda a: a.update(wait_timeout=0),
    "server.resources.requests.cpu": lambda a: a["server"].update(resources={"requests": {"cpu": "lots"}}),
    "egress.allow[0].cidr": lambda a: a.update(egress={"allow": [{"cidr": "10.0.0.300/32", "ports": [443]}]}),
    "server.ports[1].name": lambda a: a["server"]["ports"].append(
        {"name": "smp-http", "container_port": 1972}
    ),
    "license.config_map": lambda a: a.update(license={"config_map": "Bad_Name", "mount_path": "/lic"}),
}


@pytest.mark.parametrize("option", list(BAD_APP_INPUT))
def test_bad_app_input_is_refused_before_anything_is_applied(kube_cluster, resources, option):
    before = cluster_state(resources)
    run = app(kube_cluster, iris_in("rk-bad-input", BAD_APP_INPUT[option]))
    assert_refused(run, option.strip(), before, resources)


@pytest.mark.parametrize("name", ["Bad_Name", ["a", "b"]])
def test_app_info_refuses_a_bad_name(kube_cluster, resources, namespace, name):
    before = cluster_state(resources)
    run = run_module(
        "app_info", {"name": name, "namespace": namespace, "kubeconfig": kube_cluster.kubeconfig}
    )
    assert_refused(run, "is not a valid name", before, resources)
    assert run.result["msg"].startswith("name '")


def test_app_info_says_the_namespace_is_missing(kube_cluster):
    info = app_info(kube_cluster, "iris", "rk-no-such-namespace")
    assert info["exists"] is False
    assert info["reasons"] == ["namespace rk-no-such-namespace does not exist"]


# -- prune: what the spec no longer has goes on the next run ---------------------------------------------
def test_objects_the_spec_no_longer_has_are_pruned(kube_cluster, resources, namespace):
    first = iris_in(namespace, lambda a: None)
    first.update(wait=False)
    first["config_files"].append({"path": "/a/x", "content": "x"})
    first["companions"] = [{"name": "exporter", "image": "busybox:1.36"}]
    first["services"].append({"name": "admin", "ports": [{"name": "admin", "port": 8080}]})
    first["volumes"].append(
        {"name": "scratch", "mount_path": "/scratch", "size": "1Gi", "storage_class": "replicated"}
    )
    assert not app(kube_cluster, first).failed
    made = app_objects(resources, "iris", namespace)
    assert {"ConfigMap/iris-cfg-a-x", "Deployment/iris-exporter", "Service/iris-admin"} <= set(made), made
    assert "PersistentVolumeClaim/iris-scratch" in made

    second = copy.deepcopy(first)
    second["config_files"][-1]["path"] = "/a/y"  # renamed
    second["companions"] = []  # dropped
    second["services"].pop()  # removed
    second["volumes"].pop()  # its claim holds data: kept unless delete_volumes
    gone = ["ConfigMap/iris-cfg-a-x", "Deployment/iris-exporter", "Service/iris-admin"]

    check = app(kube_cluster, second, check=True, diff=True)
    assert not check.failed, check.result
    assert sorted(check.result["pruned"]) == gone
    assert {f"{o['kind']}/{o['name']}" for o in check.result["objects"] if o["action"] == "deleted"} == set(
        gone
    )
    assert "name: iris-exporter" in check.result["diff"]["before"]
    assert app_objects(resources, "iris", namespace) == made, "check mode pruned"

    run = app(kube_cluster, second)
    assert not run.failed, run.result
    assert sorted(run.result["pruned"]) == gone and run.result["kept_volumes"] == ["iris-scratch"]
    now = app_objects(resources, "iris", namespace)
    assert not set(gone) & set(now) and "ConfigMap/iris-cfg-a-y" in now
    assert "PersistentVolumeClaim/iris-scratch" in now
    # Objects another tool applied with the app's labels are not the module's to prune.
    Resources(resources.api_client, field_manager="someone-else").apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "iris-by-hand",
                "namespace": namespace,
                "labels": {
                    "app.kubernetes.io/instance": "iris",
                    "app.kubernetes.io/managed-by": "redundant.kube",
                },
            },
        }
    )
    again = app(kube_cluster, second)
    assert again.result["changed"] is False and again.result["pruned"] == [], again.result
    assert "ConfigMap/iris-by-hand" in app_objects(resources, "iris", namespace)

    volumes = app(kube_cluster, {**second, "delete_volumes": True})
    assert volumes.result["pruned"] == ["PersistentVolumeClaim/iris-scratch"], volumes.result


# -- API blips and interrupted runs ----------------------------------------------------------------------
class ApiProxy:
    """A TCP relay in front of a cluster's API server that can be cut like a restarting server: open
    connections are reset and new ones refused until it is up again (TLS passes through untouched)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        self.up()

    def up(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(64)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _address = listener.accept()
                upstream = socket.create_connection(self.target)
            except OSError:
                return
            with self.lock:
                self.connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        with self.lock:
            for connection in self.connections:
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset
                connection.close()
            self.connections.clear()


def kubeconfig_through(cluster, proxy_port: int, path: Path) -> str:
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    for entry in config["clusters"]:
        entry["cluster"]["server"] = f"https://127.0.0.1:{proxy_port}"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_api_blip_while_waiting_is_retried_simulated_kubelet(make_cluster, tmp_path):
    cluster = make_cluster(nodes=2)
    res = Resources_for(cluster)
    server = yaml.safe_load(Path(cluster.kubeconfig).read_text())["clusters"][0]["cluster"]["server"]
    host, port = server.removeprefix("https://").rsplit(":", 1)
    proxy = ApiProxy((host, int(port)))
    args = {
        "name": "blip",
        "namespace": "blip",
        "topology": "pair",
        "server": {"image": "busybox:1.36"},
        "wait_timeout": 120,
        "kubeconfig": kubeconfig_through(cluster, proxy.port, tmp_path / "kubeconfig"),
    }
    # A cordon is lifted again, so side B waits patiently (no fail-fast) and the run is still waiting when the
    # API server goes away.
    res.merge_patch("v1", "Node", "node-2", None, {"spec": {"unschedulable": True}})
    outcome: dict = {}
    runner = threading.Thread(target=lambda: outcome.update(run=run_module("app", args)))
    runner.start()
    wait_until(
        lambda: [
            p
            for p in res.list("v1", "Pod", "blip", label_selector="redundant.kube/side=b")
            if p.get("status", {}).get("conditions")
        ],
        what="side B pending",
    )
    time.sleep(1)
    proxy.cut()
    time.sleep(6)  # the API server "restarting"
    proxy.up()
    res.merge_patch("v1", "Node", "node-2", None, {"spec": {"unschedulable": False}})
    runner.join(timeout=180)
    run = outcome["run"]
    assert not run.failed, run.result
    assert run.result["retries"] >= 1, run.result
    assert {p["node"] for p in run.result["pods"]} == {"node-1", "node-2"}


def test_run_interrupted_during_apply_converges_when_run_again(kube_cluster, resources, namespace):
    args = iris_in(namespace, lambda a: a.update(wait=False, kubeconfig=kube_cluster.kubeconfig))
    command = [str(BIN / "ansible"), "localhost", "-m", "redundant.kube.app", "-a", json.dumps(args)]
    proc = subprocess.Popen(
        command, env=ansible_environment(), cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL
    )
    wait_until(lambda: app_objects(resources, "iris", namespace), timeout=120, what="the first object")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    again = app(kube_cluster, args)
    assert not again.failed, again.result
    assert app_objects(resources, "iris", namespace) == [
        "ConfigMap/iris-cfg-external-merge-merge-cpf",
        "Deployment/iris-iris",
        "PersistentVolumeClaim/iris-sys",
        "Service/iris",
    ]
    assert app(kube_cluster, args).result["changed"] is False
