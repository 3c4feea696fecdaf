"""Waiting (kube/waiter.py): the poll loop, rollout maths and the reasons a pod gives."""

from __future__ import annotations

import pytest

from ansible_collections.redundant.kube.plugins.module_utils.kube.client import (
    KubeError,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.waiter import (
    WaitTimeout,
    pod_problems,
    poll,
    poll_or_last,
    rollout_progress,
)


def test_deployment_rollout_progress():
    dep = {
        "kind": "Deployment",
        "metadata": {"generation": 3},
        "spec": {"replicas": 2},
        "status": {"observedGeneration": 3, "readyReplicas": 2, "updatedReplicas": 1, "replicas": 3},
    }
    assert rollout_progress(dep) == (False, "2/2 ready, 1/2 updated, 3 in total")
    dep["status"].update(updatedReplicas=2, replicas=2)
    assert rollout_progress(dep)[0] is True
    dep["metadata"]["generation"] = 4
    assert rollout_progress(dep) == (False, "the controller has not seen the new spec yet")


def test_statefulset_waits_for_revision():
    sts = {
        "kind": "StatefulSet",
        "metadata": {"generation": 1},
        "spec": {"replicas": 1},
        "status": {
            "observedGeneration": 1,
            "readyReplicas": 1,
            "updatedReplicas": 1,
            "replicas": 1,
            "currentRevision": "a",
            "updateRevision": "b",
        },
    }
    assert rollout_progress(sts)[0] is False
    sts["status"]["currentRevision"] = "b"
    assert rollout_progress(sts)[0] is True


def test_pending_pod_reports_scheduler_message():
    pod = {
        "metadata": {"name": "srv-a-0"},
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules.",
                }
            ],
        },
    }
    assert pod_problems(pod) == (
        "pod srv-a-0 is Pending: 0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules."
    )


class FakeClock:
    """A clock that only moves when the poll loop sleeps, so every wait is exact and instant."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_poll_returns_the_value_once_done_and_backs_off_to_the_interval():
    clock, answers = FakeClock(), iter([(False, 1), (False, 2), (False, 3), (False, 4), (True, 5)])
    assert (
        poll(
            lambda: next(answers), 100, str, interval=1.0, first_interval=0.25, sleep=clock.sleep, clock=clock
        )
        == 5
    )
    assert clock.sleeps == [0.25, 0.5, 1.0, 1.0]


def test_poll_times_out_with_the_last_value_in_its_message_and_never_oversleeps():
    clock, seen = FakeClock(), iter(range(100))
    with pytest.raises(WaitTimeout) as raised:
        poll(
            lambda: (False, next(seen)),
            2.2,
            lambda last: f"still {last}",
            interval=1.0,
            sleep=clock.sleep,
            clock=clock,
        )
    assert str(raised.value) == "still 3" and raised.value.last == 3
    assert clock.sleeps == [1.0, 1.0, pytest.approx(0.2)]
    assert isinstance(raised.value, KubeError)  # every caller's `except KubeError` still sees a timeout


def test_poll_or_last_hands_back_the_last_value_at_the_deadline():
    clock, seen = FakeClock(), iter(range(100))
    assert poll_or_last(lambda: (False, next(seen)), 1.5, interval=1.0, sleep=clock.sleep, clock=clock) == 2
    assert poll_or_last(lambda: (True, "done"), 0, sleep=clock.sleep, clock=clock) == "done"
