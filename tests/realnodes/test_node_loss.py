"""Losing a node for real (its container killed: kubelet, containerd and every pod process gone) and
getting it back. A lost node is started again before the next test (conftest.py's every_node_up), not
by the test that lost it: after the last test the cluster is removed, so nobody waits for a node to return
only to delete it. Timings are printed (pytest -s shows them) and
written in docs/testing-realnodes.md."""

from __future__ import annotations

import itertools
import subprocess
import threading
import time

from conftest import RealNodes

# kubeadm's defaults, which this cluster keeps (docs/testing-realnodes.md): kubelet renews its lease
# every 10 s, the node lifecycle controller marks a node whose lease is 50 s old NotReady (Unknown) and
# taints it node.kubernetes.io/unreachable:NoExecute; pods leave after their tolerationSeconds.
TOLERATION_SECONDS = 5


def node_ready(realnodes: RealNodes, node: str) -> str:
    conditions = realnodes.get("node", node)["status"]["conditions"]
    return next(c["status"] for c in conditions if c["type"] == "Ready")


def test_lost_node_goes_not_ready_and_pods_with_short_toleration_start_elsewhere(
    realnodes: RealNodes, namespace: str
) -> None:
    holder = realnodes.cluster.vip_holder()
    lost = next(node for node in reversed(realnodes.nodes) if node != holder)
    tolerations = [
        {
            "key": f"node.kubernetes.io/{key}",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": TOLERATION_SECONDS,
        }
        for key in ("unreachable", "not-ready")
    ]
    realnodes.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "mover", "namespace": namespace},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "mover"}},
                "template": {
                    "metadata": {"labels": {"app": "mover"}},
                    "spec": {
                        # Starts on the node about to be lost, but may run anywhere.
                        "affinity": {
                            "nodeAffinity": {
                                "preferredDuringSchedulingIgnoredDuringExecution": [
                                    {
                                        "weight": 100,
                                        "preference": {
                                            "matchExpressions": [
                                                {
                                                    "key": "kubernetes.io/hostname",
                                                    "operator": "In",
                                                    "values": [lost],
                                                }
                                            ]
                                        },
                                    }
                                ]
                            }
                        },
                        "tolerations": tolerations,
                        "terminationGracePeriodSeconds": 1,
                        "containers": [
                            {
                                "name": "c",
                                "image": realnodes.images["userland"],
                                "imagePullPolicy": "Never",
                                "command": ["sleep", "infinity"],
                            }
                        ],
                    },
                },
            },
        }
    )

    def mover_pods() -> list[dict]:
        return realnodes.get("pods", "-n", namespace, "-l", "app=mover")["items"]

    def running_on(predicate):
        return [
            p
            for p in mover_pods()
            if p["status"].get("phase") == "Running"
            and not p["metadata"].get("deletionTimestamp")
            and predicate(p["spec"]["nodeName"])
        ]

    first = realnodes.wait(f"the mover pod Running on {lost}", lambda: running_on(lambda n: n == lost))[0]
    killed = time.monotonic()
    realnodes.cluster.lose_node(lost)
    realnodes.wait(f"{lost} NotReady", lambda: node_ready(realnodes, lost) != "True", timeout=180, interval=1)
    not_ready_after = time.monotonic() - killed
    moved = realnodes.wait(
        "the mover pod Running on another node",
        lambda: running_on(lambda n: n != lost),
        timeout=180,
        interval=1,
    )
    moved_after = time.monotonic() - killed
    assert moved[0]["metadata"]["name"] != first["metadata"]["name"]
    taints = {t["key"] for t in realnodes.get("node", lost)["spec"].get("taints", [])}
    assert "node.kubernetes.io/unreachable" in taints, taints
    print(
        f"\nnode loss ({lost}): NotReady {not_ready_after:.0f} s after the kill, "
        f"pod (tolerationSeconds {TOLERATION_SECONDS}) Running on {moved[0]['spec']['nodeName']} {moved_after:.0f} s after the kill"
    )
    assert not_ready_after > 20  # by the lease timeout, not by something that noticed the kill itself


def test_losing_the_vip_holder_keeps_kubectl_through_the_vip_working(realnodes: RealNodes) -> None:
    holder = realnodes.cluster.vip_holder()
    assert holder is not None, "no node holds the API VIP"
    answers: list[tuple[float, bool]] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            asked = time.monotonic()
            try:
                realnodes.kubectl("get", "--raw", "/readyz", "--request-timeout", "2s", timeout=5)
                answers.append((asked, True))
            except (AssertionError, subprocess.TimeoutExpired):
                answers.append((asked, False))
            time.sleep(0.2)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    time.sleep(3)
    killed = time.monotonic()
    try:
        realnodes.cluster.lose_node(holder)
        realnodes.wait(
            "kubectl through the VIP to answer 10 times in a row after the kill",
            lambda: _streak_after(answers, killed) >= 10,
            timeout=120,
            interval=0.5,
        )
        new_holder = realnodes.cluster.vip_holder()
        stop.set()
        poller.join()
        successes = [asked for asked, ok in answers if ok]
        before = [asked for asked in successes if asked < killed]
        assert before, "kubectl through the VIP never answered before the kill"
        # The longest time without an answer, from the last answer before the kill on.
        window = [asked for asked in successes if asked >= before[-1]]
        gap = max(later - earlier for earlier, later in itertools.pairwise(window))
        print(
            f"\nAPI VIP: {holder} killed, VIP now on {new_holder}; kubectl through the VIP answered again after a gap of {gap:.1f} s"
        )
        assert new_holder not in (None, holder)
        # etcd keeps quorum with two of three members: writes work through the VIP.
        realnodes.kubectl(
            "create", "configmap", "vip-write-proof", "-n", "default", "--from-literal=after=loss"
        )
        realnodes.kubectl("delete", "configmap", "vip-write-proof", "-n", "default")
    finally:
        stop.set()


def _streak_after(answers: list[tuple[float, bool]], since: float) -> int:
    streak = 0
    for asked, ok in answers:
        if asked > since:
            streak = streak + 1 if ok else 0
    return streak
