"""Placement promises (app/placement.py) on API-shaped pods."""

from __future__ import annotations

from support.api_objects import pair_pods, pod
from support.app_cases import EXTERNAL_DIGESTS, load_case

from ansible_collections.redundant.kube.plugins.module_utils.app.placement import (
    pending_hint,
    placement_problems,
    placement_verdicts,
)
from ansible_collections.redundant.kube.plugins.module_utils.app.render import render_app
from ansible_collections.redundant.kube.plugins.module_utils.app.spec import spec_from_user_params


def test_pair_placement_good():
    assert placement_problems(pair_pods(), {}, "pair", "kubernetes.io/hostname") == []


def test_pair_servers_on_one_node():
    [problem] = placement_problems(pair_pods(node_b="n1", clc_a="n1"), {}, "pair", "kubernetes.io/hostname")
    assert problem.startswith("servers A (server-a) and B (server-b) both run in kubernetes.io/hostname=n1")


def test_pair_servers_in_one_zone():
    nodes = {"n1": {"topology.kubernetes.io/zone": "z1"}, "n2": {"topology.kubernetes.io/zone": "z1"}}
    [problem] = placement_problems(pair_pods(), nodes, "pair", "topology.kubernetes.io/zone")
    assert "topology.kubernetes.io/zone=z1" in problem


def test_companion_away_from_its_server():
    [problem] = placement_problems(pair_pods(clc_a="n3"), {}, "pair", "kubernetes.io/hostname")
    assert problem == "clc-a of side A runs on n3, its server server-a on n1"


def test_cluster_members_on_one_node():
    pods = [pod(f"m-{i}", "m", "server", None, "n1") for i in range(3)]
    assert placement_problems(pods, {}, "cluster", "kubernetes.io/hostname", replicas=3) == [
        "all 3 members run in kubernetes.io/hostname=n1: one failure takes them all"
    ]
    assert placement_problems(pods[:1], {}, "cluster", "kubernetes.io/hostname", replicas=1) == []


def test_pending_hints():
    assert "two nodes with different kubernetes.io/hostname" in pending_hint(
        "0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules",
        "pair",
        "kubernetes.io/hostname",
    )
    assert pending_hint("0/3 nodes are available: 3 Insufficient cpu", "pair", "kubernetes.io/hostname") == ""


# -- impossible placement: fail fast on the scheduler's lasting verdict, wait for what is merely slow ------
def pending_pod(case: str, workload: str, message: str = "0/1 nodes are available: ...", **spec_changes):
    """A pod made from the rendered pod template of `workload`, as the scheduler leaves it when it cannot
    place it."""
    objects = render_app(spec_from_user_params(load_case(case)), EXTERNAL_DIGESTS)
    template = next(o for o in objects if o["metadata"]["name"] == workload)["spec"]["template"]
    return {
        "metadata": {"name": f"{workload}-x1", **template["metadata"]},
        "spec": {**template["spec"], **spec_changes},
        "status": {
            "phase": "Pending",
            "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}
            ],
        },
    }


def node(name, taints=(), **labels):
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
        "spec": {"taints": list(taints)},
    }


def verdict(pod, nodes, claims=(), classes=("standard",)):
    return placement_verdicts([pod], nodes, list(claims), set(classes))


def test_pair_on_one_node_is_impossible_with_the_schedulers_message():
    server_b = pending_pod(
        "d2000_pair",
        "d2000-server-b",
        "0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules.",
    )
    [said] = verdict(server_b, [node("n1")])
    assert said.startswith(
        "pod d2000-server-b-x1 is Pending: 0/1 nodes are available: 1 node(s) didn't match"
    )
    assert (
        "servers A and B must run in different kubernetes.io/hostname, and the nodes they may use have 1"
        in said
    )
    assert verdict(server_b, [node("n1"), node("n2")]) == []


def test_cordoned_or_not_ready_nodes_may_come_back_so_the_wait_goes_on():
    server_b = pending_pod("d2000_pair", "d2000-server-b")
    cordoned = node("n2", [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}])
    unreachable = node("n3", [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}])
    assert verdict(server_b, [node("n1"), cordoned]) == []
    assert verdict(server_b, [node("n1"), unreachable]) == []


def test_lasting_taints_count_unless_tolerated():
    server_b = pending_pod("d2000_pair", "d2000-server-b")
    control_plane = node("n2", [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])
    assert "have 1" in verdict(server_b, [node("n1"), control_plane])[0]
    tolerant = pending_pod(
        "d2000_pair",
        "d2000-server-b",
        tolerations=[{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}],
    )
    assert verdict(tolerant, [node("n1"), control_plane]) == []


def test_no_node_matching_the_selector():
    server = pending_pod("iris_single", "iris-iris", nodeSelector={"disk": "ssd"})
    [said] = verdict(server, [node("n1"), node("n2", disk="hdd")])
    assert "(no node of the cluster has disk=ssd)" in said
    assert verdict(server, [node("n1"), node("n2", disk="ssd")]) == []


def test_storage_class_that_does_not_exist():
    server = pending_pod("iris_single", "iris-iris")
    claim_names = [
        v["persistentVolumeClaim"]["claimName"]
        for v in server["spec"]["volumes"]
        if "persistentVolumeClaim" in v
    ]
    claims = [{"metadata": {"name": n}, "spec": {"storageClassName": "no-such-class"}} for n in claim_names]
    [said] = verdict(server, [node("n1"), node("n2")], claims)
    assert f"claim {claim_names[0]} asks for StorageClass no-such-class, which does not exist" in said
    assert verdict(server, [node("n1")], claims, classes=("standard", "no-such-class")) == []


def test_scheduled_or_slow_pods_have_no_verdict():
    server_b = pending_pod("d2000_pair", "d2000-server-b")
    server_b["status"]["conditions"] = [{"type": "PodScheduled", "status": "True"}]
    assert verdict(server_b, [node("n1")]) == []
