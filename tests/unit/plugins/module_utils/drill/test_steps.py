"""The drill's pure judgement: targets, timestamps, and the checks that must be able to fail."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.redundant.kube.plugins.module_utils.drill.runtime import DrillParams
from ansible_collections.redundant.kube.plugins.module_utils.drill.steps import (
    DrillError,
    choose_target,
    claim_identity,
    cordoned_at,
    deletion_started,
    drain_order,
    evictable,
    failed_checks,
    format_time,
    is_simulated,
    last_heartbeat,
    options_for_topology,
    parse_time,
    recovered_at,
    replacement,
    seconds_between,
    step_checks,
    waiting_in_slot,
)

T0 = "2026-11-22T00:30:00Z"


def pod(
    name: str,
    node: str = "node-1",
    kind: str = "server",
    side: str | None = "a",
    uid: str | None = None,
    ready_at: str | None = T0,
    owner: str = "ReplicaSet",
    claims: tuple[str, ...] = (),
    **meta: Any,
) -> dict[str, Any]:
    labels = {
        "app.kubernetes.io/component": "server" if kind == "server" else "clc",
        "redundant.kube/workload-kind": kind,
    }
    if side:
        labels["redundant.kube/side"] = side
    conditions = [
        {"type": "Ready", "status": "True" if ready_at else "False", "lastTransitionTime": ready_at or T0}
    ]
    return {
        "metadata": {
            "name": name,
            "namespace": "scada",
            "uid": uid or f"uid-{name}",
            "labels": labels,
            "ownerReferences": [{"kind": owner, "controller": True, "name": "x"}],
            **meta,
        },
        "spec": {
            "nodeName": node,
            "volumes": [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims],
        },
        "status": {"phase": "Running", "conditions": conditions},
    }


def test_times_round_trip_at_second_and_microsecond_resolution():
    assert format_time(parse_time("2026-11-22T00:32:05.486Z")) == "2026-11-22T00:32:05.486Z"
    assert format_time(parse_time(T0)) == T0
    assert parse_time(None) is None and format_time(None) is None


def test_deletion_started_subtracts_the_grace_period_the_server_added():
    deleted = pod("p", deletionTimestamp="2026-11-22T00:30:30Z", deletionGracePeriodSeconds=30)
    assert deletion_started(deleted) == parse_time(T0)
    assert deletion_started(pod("q")) is None


def test_cordon_time_is_the_newest_write_of_spec_unschedulable():
    node = {
        "metadata": {
            "managedFields": [
                {"manager": "kwok", "time": "2026-11-22T00:40:00Z", "fieldsV1": {"f:status": {}}},
                {
                    "manager": "kubectl",
                    "time": "2026-11-22T00:10:00Z",
                    "fieldsV1": {"f:spec": {"f:unschedulable": {}}},
                },
                {"manager": "drill", "time": T0, "fieldsV1": {"f:spec": {"f:unschedulable": {}}}},
            ]
        }
    }
    assert cordoned_at(node) == parse_time(T0)
    assert cordoned_at({"metadata": {}}) is None


def test_last_heartbeat_comes_from_the_lease():
    assert last_heartbeat({"spec": {"renewTime": "2026-11-22T00:32:05.486000Z"}}) == pytest.approx(
        parse_time("2026-11-22T00:32:05.486Z")
    )
    assert last_heartbeat(None) is None


def test_recovered_only_when_every_live_pod_is_ready_and_then_at_the_newest_transition():
    ready = [pod("a", ready_at=T0), pod("b", ready_at="2026-11-22T00:30:07Z")]
    assert seconds_between(parse_time(T0), recovered_at(ready)) == 7.0
    assert recovered_at([*ready, pod("c", ready_at=None)]) is None
    terminating = pod("d", ready_at=None, deletionTimestamp=T0)
    assert recovered_at([*ready, terminating]) == parse_time("2026-11-22T00:30:07Z")
    assert seconds_between(parse_time("2026-11-22T00:30:01Z"), parse_time(T0)) == 0.0


def test_simulated_nodes_are_recognised_by_kwok_annotation_or_fake_kubelet():
    assert is_simulated({"metadata": {"annotations": {"kwok.x-k8s.io/node": "fake"}}})
    assert is_simulated({"metadata": {}, "status": {"nodeInfo": {"kubeletVersion": "fake"}}})
    assert not is_simulated({"metadata": {}, "status": {"nodeInfo": {"kubeletVersion": "v1.35.4"}}})


def test_target_is_the_side_member_or_single_server():
    pods = [pod("s-a", side="a"), pod("s-b", node="node-2", side="b"), pod("clc-a", kind="companion")]
    assert choose_target(pods, "pair", "b", 0)["metadata"]["name"] == "s-b"
    members = [pod(f"mp-{i}", side=None, owner="StatefulSet") for i in range(3)]
    assert choose_target(members, "cluster", "a", 2)["metadata"]["name"] == "mp-2"
    assert choose_target([pod("iris", side=None)], "single", "a", 0)["metadata"]["name"] == "iris"
    with pytest.raises(DrillError, match="no running server pod for side B"):
        choose_target(pods[:1], "pair", "b", 0)


def test_replacement_must_be_a_ready_pod_in_the_same_slot():
    old = pod("s-a-1", uid="old")
    assert replacement(old, [old], replaced=True) is None
    new_not_ready = pod("s-a-2", uid="new", ready_at=None)
    assert replacement(old, [new_not_ready], replaced=True) is None
    other_side = pod("s-b-1", side="b", uid="other")
    assert replacement(old, [other_side], replaced=True) is None
    new = pod("s-a-2", uid="new", node="node-3")
    assert replacement(old, [old, new], replaced=True) is new
    assert replacement(old, [old, new], replaced=False) is old
    # A StatefulSet member is replaced by a pod of the same name only.
    member = pod("mp-0", side=None, owner="StatefulSet", uid="m0")
    assert replacement(member, [pod("mp-1", side=None, owner="StatefulSet")], replaced=True) is None


def test_drain_skips_daemonset_mirror_finished_and_terminating_pods_and_evicts_servers_first():
    pods = [
        pod("aaa-companion", kind="companion"),
        pod("zzz-server"),
        pod("ds", owner="DaemonSet"),
        pod("mirror", annotations={"kubernetes.io/config.mirror": "x"}),
        pod("going", deletionTimestamp=T0),
    ]
    finished = pod("done")
    finished["status"]["phase"] = "Succeeded"
    assert not evictable(finished)
    assert [p["metadata"]["name"] for p in drain_order([*pods, finished])] == ["zzz-server", "aaa-companion"]


def test_claim_identity_names_claim_and_volume_uids():
    claims = {"log-a": {"metadata": {"uid": "c1"}, "spec": {"volumeName": "pv-1"}}}
    volumes = {"pv-1": {"metadata": {"uid": "v1"}}}
    identity = claim_identity(pod("s", claims=("log-a",)), claims, volumes)
    assert identity == {"log-a": {"uid": "c1", "volume": "pv-1", "volume_uid": "v1"}}


SAME = {"log-a": {"uid": "c1", "volume": "pv-1", "volume_uid": "v1"}}


def test_a_drain_passes_when_the_server_moved_with_its_claims():
    old, new = pod("s-1", node="node-1", uid="1"), pod("s-2", node="node-3", uid="2")
    assert failed_checks(step_checks("drain", old, new, SAME, SAME, [])) == []


def test_checks_fail_when_the_server_stays_on_its_node_or_its_volume_changed():
    old, same_node = pod("s-1", node="node-1", uid="1"), pod("s-2", node="node-1", uid="2")
    new_volume = {"log-a": {"uid": "c1", "volume": "pv-9", "volume_uid": "v9"}}
    problems = failed_checks(step_checks("lose_node", old, same_node, SAME, new_volume, []))
    assert problems == [
        "server moved: s-2 runs on node-1, still the lose_node node",
        "same claim and volume: log-a was uid c1 on pv-1 (uid v1), now uid c1 on pv-9 (uid v9)",
    ]
    not_replaced = failed_checks(step_checks("delete_pod", old, old, SAME, SAME, []))
    assert not_replaced == ["server replaced: s-1 -> s-1"]
    assert failed_checks(step_checks("delete_pod", old, None, SAME, {}, [])) == [
        "server back: no Ready server pod took the place of s-1"
    ]


def test_drain_of_every_server_must_be_refused_by_the_disruption_budget():
    old, new = pod("s-1", uid="1"), pod("s-2", node="node-3", uid="2")
    refused = [{"pod": "scada/s-b", "status": 429, "message": "Cannot evict pod"}]
    assert failed_checks(step_checks("drain_all_servers", old, new, SAME, SAME, refused)) == []
    assert failed_checks(step_checks("drain_all_servers", old, new, SAME, SAME, [])) == [
        "disruption budget refused: every server was evicted at once: the PodDisruptionBudget is missing or too loose"
    ]


def test_a_stopped_process_must_restart_in_the_same_pod():
    old = pod("s-1", uid="1")
    old["status"]["containerStatuses"] = [{"name": "server", "restartCount": 0}]
    restarted = pod("s-1", uid="1")
    restarted["status"]["containerStatuses"] = [
        {"name": "server", "restartCount": 1, "lastState": {"terminated": {"finishedAt": T0}}}
    ]
    assert failed_checks(step_checks("stop_process", old, restarted, {}, {}, [], 0, "server")) == []
    assert failed_checks(step_checks("stop_process", old, old, {}, {}, [], 0, "server")) == [
        "container restarted in place: s-1 on node-1: container server restarts 0 -> 0"
    ]


def test_a_server_that_cannot_come_back_is_explained_with_the_schedulers_words():
    old = pod("mp-0", side=None, owner="StatefulSet", uid="old")
    pending = pod("mp-0", side=None, owner="StatefulSet", uid="new", ready_at=None, node=None)
    pending["status"]["conditions"].append(
        {
            "type": "PodScheduled",
            "status": "False",
            "message": "0/3 nodes are available: 2 node(s) didn't match pod topology spread constraints.",
        }
    )
    other = pod("mp-1", side=None, owner="StatefulSet", ready_at=None)
    assert waiting_in_slot(old, [pending, other]) == [
        "pod mp-0 is Pending: 0/3 nodes are available: 2 node(s) didn't match pod topology spread constraints."
    ]


def drill_params(**options):
    return DrillParams(name="app", namespace="ns", step="delete_pod", **options)


@pytest.mark.parametrize(
    ("topology", "options", "fragment"),
    [
        (
            "cluster",
            {"side": "b", "member": None},
            "side: b picks a server of a pair, but app app is a cluster",
        ),
        (
            "single",
            {"side": "a", "member": None},
            "side: a picks a server of a pair, but app app is a single",
        ),
        ("pair", {"side": None, "member": 1}, "member: 1 picks a member of a cluster, but app app is a pair"),
        ("single", {"side": None, "member": 0}, "member: 0 picks a member of a cluster"),
    ],
)
def test_options_that_do_not_apply_to_the_topology_are_refused(topology, options, fragment):
    with pytest.raises(DrillError) as err:
        options_for_topology(drill_params(**options), topology)
    assert fragment in str(err.value) and "remove" in str(err.value)


def test_options_default_per_topology():
    assert options_for_topology(drill_params(side=None, member=None), "pair").side == "a"
    assert options_for_topology(drill_params(side="passive", member=None), "pair").side == "passive"
    assert options_for_topology(drill_params(side=None, member=2), "cluster").member == 2
    single = options_for_topology(drill_params(side=None, member=None), "single")
    assert (single.side, single.member) == ("a", 0)
