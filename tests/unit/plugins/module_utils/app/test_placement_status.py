"""Placement promises, the redundancy report, growth planning and rollout helpers, on API-shaped dicts."""

from __future__ import annotations

import http.server
import threading
from decimal import Decimal

import pytest
from support.app_cases import EXTERNAL_DIGESTS, load_case

from ansible_collections.redundant.kube.plugins.module_utils.app.growth import plan_growth
from ansible_collections.redundant.kube.plugins.module_utils.app.placement import (
    pending_hint,
    placement_problems,
    placement_verdicts,
)
from ansible_collections.redundant.kube.plugins.module_utils.app.render import render_app
from ansible_collections.redundant.kube.plugins.module_utils.app.report import call_probe
from ansible_collections.redundant.kube.plugins.module_utils.app.spec import (
    SpecError,
    parse_quantity,
    spec_from_user_params,
)
from ansible_collections.redundant.kube.plugins.module_utils.app.status import active_side, app_report
from ansible_collections.redundant.kube.plugins.module_utils.kube.apply_set import action_for, restorable
from ansible_collections.redundant.kube.plugins.module_utils.kube.volume_growth import resize_done


def pod(name, component, kind, side, node, ready=True, **labels):
    meta_labels = {
        "app.kubernetes.io/instance": "d2000",
        "app.kubernetes.io/component": component,
        "redundant.kube/workload-kind": kind,
        **({"redundant.kube/side": side} if side else {}),
        **labels,
    }
    return {
        "metadata": {"name": name, "labels": meta_labels},
        "spec": {"nodeName": node},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def pair_pods(node_a="n1", node_b="n2", clc_a="n1"):
    return [
        pod("server-a", "server", "server", "a", node_a),
        pod("server-b", "server", "server", "b", node_b),
        pod("clc-a", "clc", "companion", "a", clc_a),
        pod("clc-b", "clc", "companion", "b", node_b),
    ]


def workload(name, component, kind, side, replicas=1, ready=1, topology="pair"):
    return {
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "labels": {
                "app.kubernetes.io/component": component,
                "redundant.kube/workload-kind": kind,
                **({"redundant.kube/side": side} if side else {}),
            },
            "annotations": {
                "redundant.kube/topology": topology,
                "redundant.kube/topology-key": "kubernetes.io/hostname",
            },
        },
        "spec": {"replicas": replicas},
        "status": {"readyReplicas": ready},
    }


PAIR_WORKLOADS = [
    workload("d2000-server-a", "server", "server", "a"),
    workload("d2000-server-b", "server", "server", "b"),
    workload("d2000-clc-a", "clc", "companion", "a"),
    workload("d2000-clc-b", "clc", "companion", "b"),
]
NODES = {n: {"labels": {"kubernetes.io/hostname": n}, "ready": True} for n in ("n1", "n2", "n3")}
BOUND = [{"metadata": {"name": "d2000-log-a"}, "status": {"phase": "Bound"}}]
PDB = [{"metadata": {"name": "d2000-server"}}]


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


def test_report_redundant_pair():
    report = app_report(PAIR_WORKLOADS, pair_pods(), BOUND, PDB, NODES)
    assert report["redundant"] is True and report["reasons"] == []
    assert report["topology"] == "pair"
    assert [p["name"] for p in report["pods"]] == ["clc-a", "clc-b", "server-a", "server-b"]


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


def test_http_active_probe_against_a_real_server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/hot" else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        a = pod("server-a", "server", "server", "a", "n1")
        a["status"]["podIP"] = "127.0.0.1"
        b = pod("server-b", "server", "server", "b", "n2")  # no IP yet: not active
        probe = {"type": "http", "scheme": "http", "port": server.server_port, "path": "/hot"}
        assert call_probe(None, "ns")(probe, [a, b]) == [a]
        assert call_probe(None, "ns")({**probe, "path": "/cold"}, [a, b]) == []
    finally:
        server.shutdown()


# -- growth ------------------------------------------------------------------------------------------
def iris_manifests(size="10Gi"):
    params = load_case("iris_single")
    params["volumes"][0]["size"] = size
    return render_app(spec_from_user_params(params), EXTERNAL_DIGESTS)


def live_claim(size):
    return {"metadata": {"name": "iris-sys"}, "spec": {"resources": {"requests": {"storage": size}}}}


def test_growth_pins_claim_and_names_its_users():
    pinned, [growth] = plan_growth(iris_manifests("12Gi"), {"iris-sys": live_claim("10Gi")}, {})
    claim = next(o for o in pinned if o["kind"] == "PersistentVolumeClaim")
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert (growth.claim, growth.old, growth.new, growth.users) == (
        "iris-sys",
        "10Gi",
        "12Gi",
        (("Deployment", "iris-iris"),),
    )


def test_no_growth_when_equal_in_other_units():
    manifests = iris_manifests("10240Mi")
    pinned, growths = plan_growth(manifests, {"iris-sys": live_claim("10Gi")}, {})
    assert growths == [] and pinned == manifests


def test_shrink_is_refused():
    with pytest.raises(SpecError, match="claims cannot shrink: keep size at 10Gi or more"):
        plan_growth(iris_manifests("5Gi"), {"iris-sys": live_claim("10Gi")}, {})


def test_cluster_template_kept_and_member_claims_grown():
    params = load_case("midpoint_cluster")
    params["volumes"][1]["size"] = "2Gi"
    manifests = render_app(spec_from_user_params(params), EXTERNAL_DIGESTS)
    live_sts = next(
        o
        for o in render_app(spec_from_user_params(load_case("midpoint_cluster")), EXTERNAL_DIGESTS)
        if o["kind"] == "StatefulSet"
    )
    claims = {f"home-midpoint-midpoint-{i}": live_claim("1Gi") for i in range(3)}
    claims["home-midpoint-midpoint-extra"] = live_claim("1Gi")  # not a member claim
    pinned, growths = plan_growth(manifests, claims, {"midpoint-midpoint": live_sts})
    sts = next(o for o in pinned if o["kind"] == "StatefulSet")
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert [g.claim for g in growths] == [f"home-midpoint-midpoint-{i}" for i in range(3)]


def test_resize_done():
    wanted = parse_quantity("12Gi")
    assert resize_done({"status": {"capacity": {"storage": "12Gi"}}}, wanted, parse_quantity)
    assert not resize_done({"status": {"capacity": {"storage": "10Gi"}}}, wanted, parse_quantity)
    pending = {
        "status": {
            "capacity": {"storage": "10Gi"},
            "conditions": [{"type": "FileSystemResizePending", "status": "True"}],
        }
    }
    assert resize_done(pending, wanted, parse_quantity)
    assert parse_quantity("12Gi") == Decimal(12 * 2**30)


# -- apply set ---------------------------------------------------------------------------------------
def test_action_for_ignores_server_bookkeeping():
    live = {
        "kind": "ConfigMap",
        "metadata": {"name": "a", "resourceVersion": "1", "managedFields": []},
        "data": {"x": "1"},
    }
    dry = {
        "kind": "ConfigMap",
        "metadata": {"name": "a", "resourceVersion": "2", "managedFields": [{}]},
        "data": {"x": "1"},
    }
    assert action_for(live, dry) == "unchanged"
    assert action_for(live, {**dry, "data": {"x": "2"}}) == "updated"
    assert action_for(None, dry) == "created"


def test_restorable_keeps_real_secret_data():
    live = {
        "kind": "Secret",
        "metadata": {"name": "s", "uid": "u", "resourceVersion": "3"},
        "data": {"k": "dmFsdWU="},
        "status": {},
    }
    restored = restorable(live)
    assert restored == {"kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "dmFsdWU="}}


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
