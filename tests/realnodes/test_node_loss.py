"""Losing a node for real (its container killed: kubelet, containerd and every pod process gone). One loss
proves both promises, because each loss and the node's return cost about two minutes of the tier: the node
that holds the API VIP is killed, kubectl through the VIP keeps working once the VIP has moved, and the
lost node turns NotReady through the node lifecycle controller while a pod with a short toleration starts
elsewhere. The lost node is not started again: this is the tier's last test module, and the cluster is
removed after it (conftest.py's every_node_up would start it before any later test). Timings are printed
(pytest -s shows them) and written in docs/testing-realnodes.md."""

from __future__ import annotations

import itertools
import subprocess
import threading
import time

import pytest
from conftest import RealNodes, figure

pytestmark = pytest.mark.disrupts_nodes

# kubeadm's defaults, which this cluster keeps (docs/testing-realnodes.md): kubelet renews its lease
# every 10 s, the node lifecycle controller marks a node whose lease is 50 s old NotReady (Unknown) and
# taints it node.kubernetes.io/unreachable:NoExecute; pods leave after their tolerationSeconds.
TOLERATION_SECONDS = 5


def node_ready(realnodes: RealNodes, node: str) -> str:
    conditions = realnodes.get("node", node)["status"]["conditions"]
    return next(c["status"] for c in conditions if c["type"] == "Ready")


def controller_manager_leader(realnodes: RealNodes) -> str:
    """The node whose kube-controller-manager holds the leader lease (its identity is `<node>_<uuid>`)."""
    lease = realnodes.get("lease", "-n", "kube-system", "kube-controller-manager")
    return lease["spec"]["holderIdentity"].split("_", 1)[0]


def mover_deployment(realnodes: RealNodes, namespace: str, node: str) -> dict:
    """One pod that starts on `node` but may run anywhere, tolerating the node's loss for a few seconds."""
    tolerations = [
        {
            "key": f"node.kubernetes.io/{key}",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": TOLERATION_SECONDS,
        }
        for key in ("unreachable", "not-ready")
    ]
    preferred = {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "mover", "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "mover"}},
            "template": {
                "metadata": {"labels": {"app": "mover"}},
                "spec": {
                    "affinity": {
                        "nodeAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": [
                                {"weight": 100, "preference": {"matchExpressions": [preferred]}}
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


class ApiPoller:
    """kubectl through the VIP asking `/readyz` every 0.2 s in a thread: (time asked, answered) pairs."""

    def __init__(self, realnodes: RealNodes) -> None:
        self.realnodes = realnodes
        self.answers: list[tuple[float, bool]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self.stop.is_set():
            asked = time.monotonic()
            try:
                self.realnodes.kubectl("get", "--raw", "/readyz", "--request-timeout", "2s", timeout=5)
                self.answers.append((asked, True))
            except (AssertionError, subprocess.TimeoutExpired):
                self.answers.append((asked, False))
            time.sleep(0.2)

    def streak_after(self, since: float) -> int:
        streak = 0
        for asked, ok in self.answers:
            if asked > since:
                streak = streak + 1 if ok else 0
        return streak

    def longest_gap_around(self, killed: float) -> float:
        """The longest time without an answer, from the last answer before the kill on."""
        successes = [asked for asked, ok in self.answers if ok]
        before = [asked for asked in successes if asked < killed]
        assert before, "kubectl through the VIP never answered before the kill"
        window = [asked for asked in successes if asked >= before[-1]]
        return max(later - earlier for earlier, later in itertools.pairwise(window))


def test_losing_the_vip_holder_keeps_kubectl_working_and_moves_pods_with_short_toleration(
    realnodes: RealNodes, namespace: str
) -> None:
    lost = realnodes.cluster.vip_holder()
    assert lost is not None, "no node holds the API VIP"
    realnodes.apply(mover_deployment(realnodes, namespace, lost))

    def running_on(predicate):
        pods = realnodes.get("pods", "-n", namespace, "-l", "app=mover")["items"]
        return [
            p
            for p in pods
            if p["status"].get("phase") == "Running"
            and not p["metadata"].get("deletionTimestamp")
            and predicate(p["spec"]["nodeName"])
        ]

    first = realnodes.wait(f"the mover pod Running on {lost}", lambda: running_on(lambda n: n == lost))[0]
    # When the lost node ran the leading controller manager, the node lifecycle controller starts anew on
    # another node after the leader lease (15 s) runs out, and its 50 s count starts then.
    leader_lost = controller_manager_leader(realnodes) == lost
    poller = ApiPoller(realnodes)
    poller.thread.start()
    try:
        realnodes.wait(
            "kubectl through the VIP to answer before the kill", lambda: poller.streak_after(0) >= 3
        )
        killed = time.monotonic()
        realnodes.cluster.lose_node(lost)
        realnodes.wait(
            "kubectl through the VIP to answer 10 times in a row after the kill",
            lambda: poller.streak_after(killed) >= 10,
            timeout=120,
            interval=0.5,
        )
    finally:
        poller.stop.set()
        poller.thread.join()
    gap = poller.longest_gap_around(killed)
    new_holder = realnodes.cluster.vip_holder()
    figure(
        f"API VIP: {lost} killed, VIP now on {new_holder}; kubectl through the VIP answered again after a gap of {gap:.1f} s"
    )
    assert new_holder not in (None, lost)
    # etcd keeps quorum with two of three members: writes work through the VIP.
    realnodes.kubectl("create", "configmap", "vip-write-proof", "-n", namespace, "--from-literal=after=loss")

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
    figure(
        f"node loss ({lost}, the leading controller manager's node: {'yes' if leader_lost else 'no'}): "
        f"NotReady {not_ready_after:.0f} s after the kill, pod (tolerationSeconds {TOLERATION_SECONDS}) "
        f"Running on {moved[0]['spec']['nodeName']} {moved_after:.0f} s after the kill"
    )
    assert not_ready_after > 20  # by the lease timeout, not by something that noticed the kill itself
