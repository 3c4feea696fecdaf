"""Losing the node that holds the API VIP for real (its container killed: kubelet, containerd, keepalived and
every pod process gone): kubectl through the VIP keeps working once the VIP has moved, and etcd, with two of its
three members, still takes writes. What the node lifecycle controller does with a lost node (NotReady by the
lease, the unreachable taint, pods evicted after their toleration and started elsewhere) is proven by the K3S
broker's `lose_node` drill (test_k3s_broker.py), on a node that does not hold the VIP: each loss costs the tier
a minute or more, so each promise is proven by one. The lost node is not started again: this is the tier's
last test module, and the cluster is removed after it (conftest.py's every_node_up would start it before any
later test). Timings are printed (pytest -s shows them) and written in docs/testing-realnodes.md."""

from __future__ import annotations

import itertools
import subprocess
import threading
import time

import pytest
from conftest import RealNodes, figure

pytestmark = pytest.mark.disrupts_nodes


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


def test_losing_the_vip_holder_keeps_kubectl_working_through_the_vip(
    realnodes: RealNodes, namespace: str
) -> None:
    lost = realnodes.cluster.vip_holder()
    assert lost is not None, "no node holds the API VIP"
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
