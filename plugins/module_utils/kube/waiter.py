# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting: the one poll loop every wait of the collection uses, and waiting for workloads and pods to
become Ready, saying why when they do not."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ansible_collections.redundant.kube.plugins.module_utils.kube.client import KubeError
from ansible_collections.redundant.kube.plugins.module_utils.kube.objects import condition, label_selector
from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import Resources, object_ref

WAITABLE_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Pod")
T = TypeVar("T")


class WaitTimeout(KubeError):
    """The deadline of a wait passed; str() says what was awaited and what was still missing, `last` is
    the last value the check returned (for waits whose caller judges what it got so far)."""

    def __init__(self, message: str, last: Any = None) -> None:
        super().__init__(message)
        self.last = last


def check_timeout(option: str, seconds: float) -> None:
    """A wait of 0 seconds or less could only time out, after the changes were made: refuse it first."""
    if seconds <= 0:
        raise KubeError(
            f"{option} must be more than 0 seconds, got {seconds:g}: give the seconds to wait, e.g. 300"
        )


def poll(
    check: Callable[[], tuple[bool, T]],
    deadline: float,
    timeout_message: Callable[[T], str],
    interval: float = 0.5,
    first_interval: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Call check() until it reports done, and return its value; WaitTimeout once `deadline` (a clock()
    time) has passed, with timeout_message(the last value).

    The first pause is `first_interval` (default `interval`), each next one twice as long, up to
    `interval`: a quick first look catches what is nearly done without polling a slow wait often."""
    delay = interval if first_interval is None else first_interval
    while True:
        done, value = check()
        if done:
            return value
        remaining = deadline - clock()
        if remaining <= 0:
            raise WaitTimeout(timeout_message(value), value)
        sleep(min(delay, remaining))
        delay = min(delay * 2, interval)


def poll_or_last(
    check: Callable[[], tuple[bool, T]],
    deadline: float,
    interval: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """poll() for a caller that judges the outcome itself: at the deadline the last value is returned
    instead of raising."""
    try:
        return poll(check, deadline, str, interval=interval, sleep=sleep, clock=clock)
    except WaitTimeout as timeout:
        return timeout.last


def rollout_progress(obj: dict[str, Any]) -> tuple[bool, str]:
    """(done, what is missing) for a workload or pod as the server returned it. Pure."""
    kind = obj.get("kind")
    spec, status = obj.get("spec", {}), obj.get("status", {})
    generation = obj.get("metadata", {}).get("generation", 0)
    if kind == "Pod":
        ready = condition(obj, "Ready").get("status") == "True"
        return ready, "" if ready else f"pod is {status.get('phase', 'Pending')}, not Ready"
    if status.get("observedGeneration", 0) < generation:
        return False, "the controller has not seen the new spec yet"
    if kind == "DaemonSet":
        want = status.get("desiredNumberScheduled", 0)
        ready, updated = status.get("numberReady", 0), status.get("updatedNumberScheduled", 0)
        return (ready == want and updated == want), f"{ready}/{want} ready, {updated}/{want} updated"
    want = spec.get("replicas", 1)
    ready, updated = status.get("readyReplicas", 0), status.get("updatedReplicas", 0)
    total = status.get("replicas", 0)
    done = ready == want and updated == want and total == want
    if kind == "StatefulSet" and status.get("updateRevision"):
        done = done and status.get("currentRevision") == status.get("updateRevision")
    return done, f"{ready}/{want} ready, {updated}/{want} updated, {total} in total"


def pod_problems(pod: dict[str, Any]) -> str:
    """Why a pod is not Ready, in the words of the scheduler or kubelet, or '' when it is."""
    name = pod["metadata"]["name"]
    scheduled = condition(pod, "PodScheduled")
    if scheduled.get("status") == "False":
        return (
            f"pod {name} is Pending: {scheduled.get('message') or scheduled.get('reason', 'not scheduled')}"
        )
    if condition(pod, "Ready").get("status") == "True":
        return ""
    for container in pod.get("status", {}).get("containerStatuses") or []:
        waiting = container.get("state", {}).get("waiting")
        if waiting:
            return f"pod {name} container {container['name']} is waiting: {waiting.get('reason')} {waiting.get('message', '')}".rstrip()
    node = pod.get("spec", {}).get("nodeName") or "no node"
    return f"pod {name} on {node} is {pod.get('status', {}).get('phase', 'Pending')}, not Ready"


def workload_problems(resources: Resources, obj: dict[str, Any]) -> list[str]:
    meta = obj["metadata"]
    if obj["kind"] == "Pod":
        pods = [obj]
    else:
        selector = label_selector(obj.get("spec", {}).get("selector") or {})
        pods = resources.list("v1", "Pod", meta.get("namespace"), label_selector=selector) if selector else []
    return [problem for pod in pods if (problem := pod_problems(pod))]


def wait_for_ready(
    resources: Resources,
    objects: Iterable[dict[str, Any]],
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    hopeless: Callable[[], str] | None = None,
) -> list[dict[str, Any]]:
    """Wait until every Deployment/StatefulSet/DaemonSet/Pod in objects is rolled out and Ready.

    Returns the final state of the waited objects. On timeout raises WaitTimeout naming each object that
    is not done and the reasons its pods give (e.g. the scheduler's "0/3 nodes are available: ...").
    `hopeless`, asked while something is not done, says why no waiting can help ('' when it may): then
    KubeError with that reason at once instead of waiting for the timeout.
    """
    pending = [o for o in objects if o.get("kind") in WAITABLE_KINDS]
    done: list[dict[str, Any]] = []

    def check() -> tuple[bool, list[tuple[dict[str, Any], str]]]:
        nonlocal pending
        still: list[tuple[dict[str, Any], str]] = []
        for obj in pending:
            meta = obj["metadata"]
            live = resources.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
            if live is None:
                still.append((obj, "does not exist"))
                continue
            finished, progress = rollout_progress(live)
            if finished:
                done.append(live)
            else:
                still.append((live, progress))
        pending = [obj for obj, _unused in still]
        verdict = hopeless() if still and hopeless else ""
        if verdict:
            raise KubeError(f"cannot become ready, whatever the wait: {verdict}")
        return not still, still

    def timeout_message(still: list[tuple[dict[str, Any], str]]) -> str:
        reasons = []
        for obj, progress in still:
            problems = workload_problems(resources, obj) if progress != "does not exist" else []
            reasons.append(
                f"{object_ref(obj)}: {progress}" + (f" ({'; '.join(problems)})" if problems else "")
            )
        return f"timed out after {timeout:g}s waiting for readiness: " + " | ".join(reasons)

    poll(check, time.monotonic() + timeout, timeout_message, interval=1.0, first_interval=0.1, sleep=sleep)
    return done
