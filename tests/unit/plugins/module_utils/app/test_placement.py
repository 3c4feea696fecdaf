"""Placement promises (app/placement.py) on API-shaped pods."""

from __future__ import annotations

from support.api_objects import pair_pods, pod

from ansible_collections.redundant.kube.plugins.module_utils.app.placement import (
    pending_hint,
    placement_problems,
)


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
