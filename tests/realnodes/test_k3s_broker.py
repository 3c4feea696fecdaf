"""The K3S two-node example's application on running containers: its MQTT broker pair with Debian bookworm's
real mosquitto broker (`localhost/redundant-kube-test/mosquitto`: the mosquitto package laid out like the official
eclipse-mosquitto image the example names, NOT that image). The example is changed only by EXTRA_VARS: the image,
the namespace, the kubeconfig, and rk_apps without the broker's NFS data volume (this kernel has no NFS server;
the VM tier mounts NFS). Its drill runs the example's steps with `drain` added, and losing a node runs through
drill.yml with this cluster's lose-node and restore-node commands: both use the third node the two-node example
does not have.

Realnodes tier only: tests/realnodes is not in pytest's testpaths, `make test-realnodes` runs it on the
real-node cluster (tests/realnodes/conftest.py)."""

from __future__ import annotations

import json
import shlex
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from ansible_run import run_module
from conftest import DeployedExample, RealNodes, figure
from playbook_run import run_playbook
from test_cluster import client_pod

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parents[1] / "inventories/k3s_two_node/group_vars/all/k3s_two_node.yml"
BROKER = "app.kubernetes.io/instance=broker"
SIDES = ("a", "b")
# What Debian bookworm's mosquitto package is (apt's candidate on this machine when the image was built).
DEBIAN_MOSQUITTO = "mosquitto version 2.0.11"


def without_nfs(apps: list[dict]) -> list[dict]:
    """The example's rk_apps without what needs an NFS server: the broker's data volume on the pair's export.
    Exactly that goes; everything else is the example's own."""
    dropped = []
    for app in apps:
        dropped += [(app["name"], volume["name"]) for volume in app.get("volumes", []) if "nfs" in volume]
        app["volumes"] = [volume for volume in app.get("volumes", []) if "nfs" not in volume]
    assert dropped == [("broker", "data")], "the example's NFS parts changed: update this"
    return apps


def extra_vars(realnodes: RealNodes, namespace: str) -> dict:
    """What points the example at this cluster, and nothing else."""
    example = yaml.safe_load(EXAMPLE.read_text())
    return {
        "rk_kubeconfig": str(realnodes.cluster.kubeconfig),
        "k3s_demo_namespace": namespace,
        "k3s_demo_image": realnodes.images["test-mosquitto"],
        "rk_apps": without_nfs(example["rk_apps"]),
    }


@pytest.fixture(scope="module")
def broker(realnodes: RealNodes) -> Iterator[DeployedExample]:
    namespace = f"rn-k3s-{uuid.uuid4().hex[:6]}"
    variables = extra_vars(realnodes, namespace)
    try:
        yield DeployedExample(
            namespace, variables, run_playbook("app.yml", "k3s_two_node", extra_vars=variables)
        )
    finally:
        realnodes.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def servers(realnodes: RealNodes, namespace: str) -> dict[str, dict]:
    """The live broker pod of each side, by side."""
    return {p["metadata"]["labels"]["redundant.kube/side"]: p for p in realnodes.live_pods(namespace, BROKER)}


def app_info_args(realnodes: RealNodes, namespace: str) -> dict:
    return {"name": "broker", "namespace": namespace, "kubeconfig": str(realnodes.cluster.kubeconfig)}


def app_info(realnodes: RealNodes, namespace: str) -> dict:
    info = run_module("app_info", app_info_args(realnodes, namespace))
    assert not info.failed, info.result
    return info.result


def test_broker_sides_run_debians_mosquitto_on_two_nodes_and_a_rerun_restarts_nothing(
    realnodes: RealNodes, broker
):
    assert broker.first.rc == 0, broker.first.explain()
    pods = servers(realnodes, broker.namespace)
    assert sorted(pods) == list(SIDES), sorted(pods)
    assert pods["a"]["spec"]["nodeName"] != pods["b"]["spec"]["nodeName"]
    for side, pod in pods.items():
        (status,) = pod["status"]["containerStatuses"]
        assert pod["status"]["phase"] == "Running" and status["ready"] and "running" in status["state"], pod
        assert status["containerID"].startswith("containerd://"), status
        log = realnodes.kubectl("logs", "-n", broker.namespace, pod["metadata"]["name"])
        assert f"{DEBIAN_MOSQUITTO} starting" in log, log
        assert f"Config loaded from /mosquitto/config/side-{side}.conf" in log, log
        assert "Opening ipv4 listen socket on port 1883" in log, log
        # The broker bound its port as root and runs as the image's mosquitto user.
        process = realnodes.kubectl(
            "exec", "-n", broker.namespace, pod["metadata"]["name"], "--", "cat", "/proc/1/status"
        )
        uids = next(line.split()[1:] for line in process.splitlines() if line.startswith("Uid:"))
        assert uids == ["1883"] * 4, process
    info = app_info(realnodes, broker.namespace)
    assert info["redundant"] and info["reasons"] == [], info["reasons"]

    before = {side: pod["status"]["containerStatuses"][0]["containerID"] for side, pod in pods.items()}
    again = run_playbook("app.yml", "k3s_two_node", extra_vars=broker.extra_vars)
    assert again.rc == 0, again.explain()
    assert again.stats.get("changed") == 0, again.explain()
    after = servers(realnodes, broker.namespace)
    assert {
        side: pod["status"]["containerStatuses"][0]["containerID"] for side, pod in after.items()
    } == before
    figure(
        f"k3s broker: first app.yml run {broker.first.seconds:.0f} s, second (no change) {again.seconds:.0f} s"
    )


# First side B's bridge connected to side A: its notification, retained on side A, is 1 while connected (0, the
# bridge's will, once it is lost). Side B retries a failed connection with a growing delay, so right after a
# deployment the bridge may be down for tens of seconds, and a message published then misses side A.
# Then subscribers on the example's Service and on each side's own Service; once every one has its subscription
# acknowledged (SUBACK in its debug output, polled), ONE message published through the example's Service.
# One message lands on one side: the other side's subscriber can only have it across side B's bridge. (Messages
# published again and again would reach both sides through the Service's own spreading, bridge or not.) Each
# subscriber's exit status and how many times it received that message, one line each.
SUBSCRIBE_AND_PUBLISH_ONCE = r"""
topic=$1 message=$2
for attempt in $(seq 40); do
    state=$(mosquitto_sub -h broker-side-a -t '$SYS/broker/connection/+/state' -C 1 -W 2 2>/dev/null)
    [ "$state" = 1 ] && break
    sleep 1
done
[ "$state" = 1 ] || { echo "side B's bridge not connected to side A after 40 tries: state '$state'" >&2; exit 1; }
declare -A subscriber
for service in broker broker-side-a broker-side-b; do
    # Line-buffered: written to a file, the debug lines would otherwise arrive only when the subscriber exits.
    stdbuf -oL mosquitto_sub -d -h "$service" -t "$topic" -C 1 -W 30 >"/tmp/$service.received" 2>&1 &
    subscriber[$service]=$!
done
for attempt in $(seq 300); do
    [ "$(grep -l "received SUBACK" /tmp/broker*.received | wc -l)" = 3 ] && break
    sleep 0.1
done
mosquitto_pub -h broker -t "$topic" -m "$message"
for service in "${!subscriber[@]}"; do
    wait "${subscriber[$service]}"
    echo "$service $? $(grep -cxF "$message" "/tmp/$service.received")"
done
"""


def test_a_message_published_through_the_service_reaches_subscribers_of_either_side(
    realnodes: RealNodes, broker
):
    assert broker.first.rc == 0, broker.first.explain()
    client = client_pod("mqtt-client", realnodes.nodes[0], realnodes.images["test-mosquitto"])
    client["metadata"]["namespace"] = broker.namespace
    realnodes.apply(client)
    realnodes.wait(
        "the MQTT client pod running",
        lambda: (
            realnodes.get("pod", "mqtt-client", "-n", broker.namespace)["status"].get("phase") == "Running"
        ),
    )
    topic = f"redundant-kube/realnodes/{uuid.uuid4().hex[:8]}"
    message = f"published once through the Service {uuid.uuid4().hex[:8]}"
    began = time.monotonic()
    lines = realnodes.kubectl(
        "exec", "-n", broker.namespace, "mqtt-client", "--",
        "bash", "-c", SUBSCRIBE_AND_PUBLISH_ONCE, "mqtt", topic, message, timeout=240,
    ).splitlines()  # fmt: skip
    # service -> (subscriber's exit status, times it got the message): 0 and 1 for each.
    received = {line.split()[0]: tuple(line.split()[1:]) for line in lines}
    assert received == {service: ("0", "1") for service in ("broker", "broker-side-a", "broker-side-b")}, (
        lines
    )
    figure(
        f"k3s broker: one message through the Service reached all three subscribers in {time.monotonic() - began:.1f} s"
    )


# Draining evicts every pod of the drained nodes, other tests' too: it runs alone, with the node losses.
@pytest.mark.disrupts_nodes
def test_the_examples_drill_and_a_drain_recover_on_real_nodes(realnodes: RealNodes, broker, tmp_path: Path):
    assert broker.first.rc == 0, broker.first.explain()
    report = tmp_path / "k3s-broker-drill.json"
    # The example's steps, and `drain` between them: on the example's two servers a drained side has no node to
    # go to (so the example leaves it out); here the third node takes it.
    assert yaml.safe_load(EXAMPLE.read_text())["rk_drill_steps"] == ["delete_pod", "drain_all_servers"]
    drill_steps = ["delete_pod", "drain", "drain_all_servers"]
    drill = run_playbook(
        "drill.yml",
        "k3s_two_node",
        extra_vars={**broker.extra_vars, "rk_drill_steps": drill_steps, "rk_drill_report": str(report)},
    )
    assert drill.rc == 0, drill.explain()
    steps = {s["step"]: s for s in json.loads(report.read_text())}
    assert list(steps) == drill_steps
    assert steps["drain"]["after"]["node"] != steps["drain"]["target"]["node"], steps["drain"]
    assert all(c["ok"] for step in steps.values() for c in step["checks"]), steps
    # drain_all_servers: the budget refused one side's eviction, the other side came back.
    assert steps["drain_all_servers"]["refusals"], steps["drain_all_servers"]
    for name, step in steps.items():
        figure(f"k3s broker drill {name}: {step['summary']}")


@dataclass
class Sample:
    """One app_info answer, and when it came; `redundant` is None when app_info failed (the reason in `reasons`)."""

    at: float
    redundant: bool | None
    reasons: list[str]


def watch_app_info(
    realnodes: RealNodes, namespace: str, samples: list[Sample], stop: threading.Event
) -> None:
    """app_info over and over until `stop`: each answer a Sample. A failed run is recorded too, not raised: an
    exception would end this thread unseen, and the samples would just stop."""
    while not stop.is_set():
        info = run_module("app_info", app_info_args(realnodes, namespace))
        if info.failed:
            samples.append(Sample(time.monotonic(), None, [str(info.result.get("msg"))]))
        else:
            samples.append(Sample(time.monotonic(), info.result["redundant"], info.result["reasons"]))
        # The poll's interval: the side is down for 30 s or more (its toleration), and CPU is scarce.
        stop.wait(2)


@pytest.mark.disrupts_nodes
def test_losing_a_node_moves_its_side_to_the_spare_node_and_app_info_says_so_meanwhile(
    realnodes: RealNodes, broker, tmp_path: Path
):
    assert broker.first.rc == 0, broker.first.explain()
    pods = servers(realnodes, broker.namespace)
    nodes = {side: pod["spec"]["nodeName"] for side, pod in pods.items()}
    # Not the API VIP's holder: this test is about the application, not the API's failover (test_node_loss.py).
    holder = realnodes.cluster.vip_holder()
    side = next(s for s in SIDES if nodes[s] != holder)
    lost = nodes[side]
    (spare,) = set(realnodes.nodes) - set(nodes.values())
    info = app_info(realnodes, broker.namespace)
    assert info["redundant"] and len({p["node"] for p in info["pods"]}) == 2, info

    cli = f"{shlex.quote(sys.executable)} {shlex.quote(str(HERE / 'realnodes.py'))} --name {realnodes.cluster.name}"
    report = tmp_path / "k3s-broker-lose-node.json"
    samples: list[Sample] = []
    stop = threading.Event()
    watcher = threading.Thread(
        target=watch_app_info, args=(realnodes, broker.namespace, samples, stop), daemon=True
    )
    watcher.start()
    try:
        drill = run_playbook(
            "drill.yml",
            "k3s_two_node",
            extra_vars={
                **broker.extra_vars,
                "rk_drill_steps": ["lose_node"],
                "rk_drill_side": side,
                "rk_drill_lose_node_command": f"{cli} lose-node {{node}}",
                "rk_drill_restore_node_command": f"{cli} restore-node {{node}}",
                "rk_drill_report": str(report),
            },
        )
    finally:
        stop.set()
        watcher.join()
    assert drill.rc == 0, drill.explain()
    (step,) = json.loads(report.read_text())
    assert (step["step"], step["target"]["side"], step["target"]["node"]) == ("lose_node", side, lost), step
    assert step["after"]["node"] == spare, step
    assert step["node_restored"] is True and all(c["ok"] for c in step["checks"]), step
    # The node lifecycle controller marked the node NotReady by its lease (kubeadm's 50 s grace period after the
    # last renewal), not anything that saw the kill; the side was evicted once its toleration had run out.
    moments = {k: datetime.fromisoformat(v).timestamp() for k, v in step["timeline"].items() if v}
    assert moments["node_not_ready"] - moments["last_heartbeat"] > 20, step["timeline"]
    assert moments["evicted"] >= moments["node_not_ready"], step["timeline"]

    # While the lost node's side was down, app_info said the app was not redundant, and why.
    down = [s for s in samples if s.redundant is False]
    assert down, [(s.redundant, s.reasons) for s in samples]
    assert any(f"side {side.upper()} is down" in reason for s in down for reason in s.reasons), down
    info = app_info(realnodes, broker.namespace)
    assert info["redundant"], info["reasons"]
    # The lost side's evicted pod may still be listed, terminating, until the restored node's kubelet ends it.
    live = [p for p in info["pods"] if not p["terminating"]]
    assert len(live) == 2 and {p["side"]: p["node"] for p in live} == {**nodes, side: spare}, info["pods"]
    figure(
        f"k3s broker lose_node: {step['summary']}; not redundant per app_info for "
        f"{down[-1].at - down[0].at:.0f} s ({len(down)} of {len(samples)} answers); timeline {step['timeline']}"
    )
