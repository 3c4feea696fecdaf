"""Waiting for workloads and pods to become Ready, and saying why when they do not."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from ansible_collections.redundant.kube.plugins.module_utils.kube.client import KubeError
from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import Resources, object_ref

WAITABLE_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Pod")


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    for condition in obj.get("status", {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return {}


def rollout_progress(obj: dict[str, Any]) -> tuple[bool, str]:
    """(done, what is missing) for a workload or pod as the server returned it. Pure."""
    kind = obj.get("kind")
    spec, status = obj.get("spec", {}), obj.get("status", {})
    generation = obj.get("metadata", {}).get("generation", 0)
    if kind == "Pod":
        ready = _condition(obj, "Ready").get("status") == "True"
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


def label_selector(selector: dict[str, Any]) -> str:
    """A workload's spec.selector as a label-selector string."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr["operator"], expr["key"], ",".join(expr.get("values") or [])
        parts.append(
            {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key}.get(
                op, f"!{key}"
            )
        )
    return ",".join(parts)


def pod_problems(pod: dict[str, Any]) -> str:
    """Why a pod is not Ready, in the words of the scheduler or kubelet, or '' when it is."""
    name = pod["metadata"]["name"]
    scheduled = _condition(pod, "PodScheduled")
    if scheduled.get("status") == "False":
        return (
            f"pod {name} is Pending: {scheduled.get('message') or scheduled.get('reason', 'not scheduled')}"
        )
    if _condition(pod, "Ready").get("status") == "True":
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
) -> list[dict[str, Any]]:
    """Wait until every Deployment/StatefulSet/DaemonSet/Pod in objects is rolled out and Ready.

    Returns the final state of the waited objects. On timeout raises KubeError naming each object that
    is not done and the reasons its pods give (e.g. the scheduler's "0/3 nodes are available: ...").
    """
    pending = [o for o in objects if o.get("kind") in WAITABLE_KINDS]
    deadline = time.monotonic() + timeout
    done: list[dict[str, Any]] = []
    delay = 0.1
    while True:
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
        if not still:
            return done
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            reasons = []
            for obj, progress in still:
                problems = workload_problems(resources, obj) if progress != "does not exist" else []
                reasons.append(
                    f"{object_ref(obj)}: {progress}" + (f" ({'; '.join(problems)})" if problems else "")
                )
            raise KubeError(f"timed out after {timeout:g}s waiting for readiness: " + " | ".join(reasons))
        sleep(min(delay, remaining))
        delay = min(delay * 2, 1.0)
