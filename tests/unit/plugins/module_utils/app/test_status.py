"""The redundancy report and the active side (app/status.py) from API-shaped objects."""

from __future__ import annotations

from support.api_objects import BOUND, NODES, PAIR_WORKLOADS, PDB, pair_pods, pod, workload

from ansible_collections.redundant.kube.plugins.module_utils.app.status import active_side, app_report


def test_report_redundant_pair():
    report = app_report(PAIR_WORKLOADS, pair_pods(), BOUND, PDB, NODES)
    assert report["redundant"] is True and report["reasons"] == []
    assert report["topology"] == "pair"
    assert [p["name"] for p in report["pods"]] == ["clc-a", "clc-b", "server-a", "server-b"]
    assert not any(p["terminating"] for p in report["pods"])


def test_report_marks_the_evicted_pod_of_a_lost_node_beside_its_replacement():
    evicted = pod("server-a-old", "server", "server", "a", "n3", ready=False)
    evicted["metadata"]["deletionTimestamp"] = "2026-12-06T14:00:00Z"
    report = app_report(PAIR_WORKLOADS, [*pair_pods(), evicted], BOUND, PDB, NODES)
    marked = {
        p["name"]: p["terminating"] for p in report["pods"] if p["side"] == "a" and p["kind"] == "server"
    }
    assert marked == {"server-a": False, "server-a-old": True}


def test_report_side_down_claim_unbound_budget_missing():
    workloads = [
        *PAIR_WORKLOADS[:1],
        workload("d2000-server-b", "server", "server", "b", ready=0),
        *PAIR_WORKLOADS[2:],
    ]
    claims = [{"metadata": {"name": "d2000-log-b"}, "status": {"phase": "Pending"}}]
    report = app_report(workloads, pair_pods()[:1], claims, [], NODES)
    assert report["redundant"] is False
    assert report["reasons"] == [
        "side B is down or degraded: d2000-server-b 0/1 ready",
        "PersistentVolumeClaim d2000-log-b is Pending (unbound)",
        "PodDisruptionBudget missing: a node drain may take every server at once",
    ]


def test_a_side_or_single_instance_scaled_to_0_is_down():
    workloads = [
        *PAIR_WORKLOADS[:1],
        workload("d2000-server-b", "server", "server", "b", replicas=0, ready=0),
        *PAIR_WORKLOADS[2:],
    ]
    report = app_report(workloads, pair_pods()[:1], BOUND, PDB, NODES)
    assert report["redundant"] is False
    assert report["reasons"] == ["side B is down or degraded: d2000-server-b 0/0 ready (scaled to 0)"]
    single = [workload("iris-iris", "iris", "server", None, replicas=0, ready=0, topology="single")]
    assert app_report(single, [], BOUND, [], NODES)["reasons"] == [
        "iris-iris is down: 0/0 ready (scaled to 0)"
    ]


def test_report_single_needs_a_node_to_fail_over_to():
    workloads = [workload("iris-iris", "iris", "server", None, topology="single")]
    nodes = {"n1": NODES["n1"], "n2": {**NODES["n2"], "unschedulable": True}}
    report = app_report(workloads, [pod("iris", "iris", "server", None, "n1")], BOUND, [], nodes)
    assert report["reasons"] == [
        "only 1 schedulable Ready node(s): a single instance has nowhere to fail over to"
    ]


def test_report_unknown_app():
    assert app_report([], [], [], [], {})["exists"] is False


def test_active_side():
    a = pod("server-a", "server", "server", "a", "n1")
    b = pod("server-b", "server", "server", "b", "n2")
    assert active_side([a]) == "a"
    assert active_side([a, b]) is None
    assert active_side([]) is None
