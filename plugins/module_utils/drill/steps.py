# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The failover drill: what to disrupt, what the disruption must change, and how long recovery took. Pure.

Inputs are objects as the API server returns them (plain dicts); runtime.py does the reading and
writing. Every time here comes from an object timestamp, never from the drill's own clock:

- the start of a disruption: the deleted pod's ``deletionTimestamp - deletionGracePeriodSeconds`` (the
  server sets the timestamp to "now + grace period"), the Node's ``managedFields`` time of the write
  that cordoned it, the node Lease's last ``renewTime`` (the lost node's last heartbeat), or a restarted
  container's ``lastState.terminated.finishedAt``;
- the end: the newest ``Ready`` condition ``lastTransitionTime`` among the app's live pods once the app is
  redundant again.

Pod conditions and most metadata times have a resolution of one second, so recovery times are too.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any, TypeVar

from ansible_collections.redundant.kube.plugins.module_utils.kube.objects import (
    LABEL_COMPONENT,
    LABEL_SIDE,
    LABEL_WORKLOAD_KIND,
    condition,
    is_ready,
    live_pods,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.waiter import pod_problems

STEPS = ("delete_pod", "drain", "drain_all_servers", "lose_node", "stop_process")
# After these steps the target server must be a new pod (new UID) ...
REPLACING_STEPS = ("delete_pod", "drain", "lose_node")
# ... and run on another node than before: its node is cordoned or gone.
MOVING_STEPS = ("drain", "lose_node")
SIDES = ("a", "b", "active", "passive")
# kwok marks the nodes it simulates with this annotation and reports kubeletVersion "fake".
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
SIMULATED_KUBELET_VERSION = "fake"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"


class DrillError(Exception):
    """The drill cannot run as asked: str() is one line naming the option or the state, and the fix."""


# -- time --------------------------------------------------------------------------------------------
def parse_time(text: str | None) -> float | None:
    """Seconds since the epoch from an RFC 3339 time as Kubernetes writes it (``...Z``, optional fraction)."""
    if not text:
        return None
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def format_time(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds" if seconds % 1 else "seconds").replace("+00:00", "Z")


def deletion_started(pod: dict[str, Any]) -> float | None:
    """When deletion or eviction of a pod was requested: the server sets deletionTimestamp to now + grace."""
    meta = pod.get("metadata", {})
    deadline = parse_time(meta.get("deletionTimestamp"))
    if deadline is None:
        return None
    return deadline - (meta.get("deletionGracePeriodSeconds") or 0)


def cordoned_at(node: dict[str, Any]) -> float | None:
    """Time of the newest write that set spec.unschedulable, from the Node's managedFields."""
    times = [
        parse_time(entry.get("time"))
        for entry in node.get("metadata", {}).get("managedFields") or []
        if "f:unschedulable" in ((entry.get("fieldsV1") or {}).get("f:spec") or {})
    ]
    return max((t for t in times if t is not None), default=None)


def last_heartbeat(lease: dict[str, Any] | None) -> float | None:
    """The last time a node's kubelet renewed its Lease in kube-node-lease (microsecond resolution)."""
    return parse_time((lease or {}).get("spec", {}).get("renewTime"))


def node_ready_changed(node: dict[str, Any]) -> tuple[bool, float | None]:
    """(Ready, time of the last change of the Ready condition) as the node lifecycle controller reports it."""
    ready = condition(node, "Ready")
    return ready.get("status") == "True", parse_time(ready.get("lastTransitionTime"))


def ready_since(pod: dict[str, Any]) -> float | None:
    ready = condition(pod, "Ready")
    return parse_time(ready.get("lastTransitionTime")) if ready.get("status") == "True" else None


def recovered_at(pods: list[dict[str, Any]]) -> float | None:
    """When the last of the app's live pods became Ready; None while any of them is not Ready."""
    times = [ready_since(p) for p in live_pods(pods)]
    if not times or None in times:
        return None
    return max(t for t in times if t is not None)


def seconds_between(start: float | None, end: float | None) -> float | None:
    """Recovery time; 0 when second-resolution timestamps put the end a fraction before the start."""
    if start is None or end is None:
        return None
    return round(max(end - start, 0.0), 1)


# -- nodes -------------------------------------------------------------------------------------------
def is_simulated(node: dict[str, Any]) -> bool:
    """A kwok-simulated node: no kubelet runs there, so no container, process or probe either."""
    annotations = node.get("metadata", {}).get("annotations") or {}
    version = node.get("status", {}).get("nodeInfo", {}).get("kubeletVersion")
    return KWOK_NODE_ANNOTATION in annotations or version == SIMULATED_KUBELET_VERSION


# -- pods --------------------------------------------------------------------------------------------
def _labels(pod: dict[str, Any]) -> dict[str, str]:
    return pod.get("metadata", {}).get("labels") or {}


def _owner_kind(pod: dict[str, Any]) -> str | None:
    owners = pod.get("metadata", {}).get("ownerReferences") or []
    return next((o.get("kind") for o in owners if o.get("controller")), None)


def server_pods(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Live server pods of the app, by name."""
    servers = [p for p in live_pods(pods) if _labels(p).get(LABEL_WORKLOAD_KIND) == "server"]
    return sorted(servers, key=lambda p: p["metadata"]["name"])


def slot(pod: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """What a replacement pod shares with the pod it replaces: workload, side and, for a StatefulSet
    member, its stable name."""
    labels = _labels(pod)
    member = pod["metadata"]["name"] if _owner_kind(pod) == "StatefulSet" else None
    return labels.get(LABEL_COMPONENT), labels.get(LABEL_SIDE), member


P = TypeVar("P")  # the drill's parameters (a dataclass with name, side and member)


def options_for_topology(params: P, topology: str) -> P:
    """The drill parameters with side and member filled in for the app's topology; DrillError, before
    anything is disrupted, for an option given that this topology has no use for (side outside a pair,
    member outside a cluster): a drill given wrong input must never disrupt anything."""
    if params.side is not None and topology != "pair":
        raise DrillError(
            f"side: {params.side} picks a server of a pair, but app {params.name} is a {topology}: remove side"
            + (" and give member (the StatefulSet ordinal)" if topology == "cluster" else "")
        )
    if params.member is not None and topology != "cluster":
        raise DrillError(
            f"member: {params.member} picks a member of a cluster, but app {params.name} is a {topology}: remove "
            "member" + (" and give side (a, b, active or passive)" if topology == "pair" else "")
        )
    return dataclasses.replace(params, side=params.side or "a", member=params.member or 0)


def choose_target(pods: list[dict[str, Any]], topology: str, side: str, member: int) -> dict[str, Any]:
    """The server pod a step disrupts: side A/B of a pair, member N of a cluster, the single instance."""
    servers = [p for p in server_pods(pods) if p.get("spec", {}).get("nodeName")]
    if topology == "pair":
        found = [p for p in servers if _labels(p).get(LABEL_SIDE) == side]
        where = f"side {side.upper()}"
    elif topology == "cluster":
        found = [p for p in servers if p["metadata"]["name"].endswith(f"-{member}")]
        where = f"member {member}"
    else:
        found, where = servers, "the single instance"
    if not found:
        running = ", ".join(p["metadata"]["name"] for p in servers) or "none"
        raise DrillError(f"no running server pod for {where} (running servers: {running}): check side/member")
    return found[0]


def replacement(target: dict[str, Any], pods: list[dict[str, Any]], replaced: bool) -> dict[str, Any] | None:
    """The live, Ready server pod in the target's slot now; with replaced=True it must be a new pod."""
    for pod in server_pods(pods):
        if slot(pod) != slot(target) or not is_ready(pod):
            continue
        if replaced == (pod["metadata"]["uid"] != target["metadata"]["uid"]):
            return pod
    return None


def waiting_in_slot(target: dict[str, Any], pods: list[dict[str, Any]]) -> list[str]:
    """Why the pods in the target's place are not Ready, in the scheduler's or kubelet's words."""
    return [
        problem for pod in server_pods(pods) if slot(pod) == slot(target) and (problem := pod_problems(pod))
    ]


def evictable(pod: dict[str, Any]) -> bool:
    """What `kubectl drain` evicts: not DaemonSet pods, not mirror pods, not finished or terminating pods."""
    meta = pod.get("metadata", {})
    return (
        _owner_kind(pod) != "DaemonSet"
        and MIRROR_POD_ANNOTATION not in (meta.get("annotations") or {})
        and not meta.get("deletionTimestamp")
        and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")
    )


def drain_order(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pods of a node to evict, servers first: if the disruption budget refuses a server, the drain stops
    before its companions are taken away from it."""
    chosen = [p for p in pods if evictable(p)]
    return sorted(
        chosen, key=lambda p: (_labels(p).get(LABEL_WORKLOAD_KIND) != "server", p["metadata"]["name"])
    )


def restart_state(pod: dict[str, Any], container: str) -> tuple[int, float | None]:
    """(restartCount, when the previous instance of the container ended) of one container."""
    for status in pod.get("status", {}).get("containerStatuses") or []:
        if status.get("name") == container:
            ended = (status.get("lastState") or {}).get("terminated", {}).get("finishedAt")
            return status.get("restartCount", 0), parse_time(ended)
    return 0, None


# -- volumes -----------------------------------------------------------------------------------------
def claim_names(pod: dict[str, Any]) -> list[str]:
    volumes = pod.get("spec", {}).get("volumes") or []
    return sorted(v["persistentVolumeClaim"]["claimName"] for v in volumes if v.get("persistentVolumeClaim"))


def claim_identity(
    pod: dict[str, Any], claims: dict[str, dict[str, Any]], volumes: dict[str, dict[str, Any]]
) -> dict[str, dict[str, str | None]]:
    """claim name -> UIDs of the claim and of the PersistentVolume bound to it, for the claims a pod mounts."""
    identity: dict[str, dict[str, str | None]] = {}
    for name in claim_names(pod):
        claim = claims.get(name) or {}
        volume_name = claim.get("spec", {}).get("volumeName")
        volume = volumes.get(volume_name or "") or {}
        identity[name] = {
            "uid": claim.get("metadata", {}).get("uid"),
            "volume": volume_name,
            "volume_uid": volume.get("metadata", {}).get("uid"),
        }
    return identity


# -- verdict -----------------------------------------------------------------------------------------
def check(name: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"check": name, "ok": ok, "detail": detail}


def step_checks(
    step: str,
    target: dict[str, Any],
    after: dict[str, Any] | None,
    claims_before: dict[str, dict[str, str | None]],
    claims_after: dict[str, dict[str, str | None]],
    refusals: list[dict[str, Any]],
    restarts_before: int = 0,
    container: str = "",
) -> list[dict[str, Any]]:
    """What must hold after a step, each with whether it does: the checks that make a drill fail."""
    name, node = target["metadata"]["name"], target["spec"]["nodeName"]
    if after is None:
        return [check("server back", False, f"no Ready server pod took the place of {name}")]
    new_name, new_node = after["metadata"]["name"], after["spec"]["nodeName"]
    checks = []
    if step in REPLACING_STEPS:
        checks.append(
            check(
                "server replaced",
                after["metadata"]["uid"] != target["metadata"]["uid"],
                f"{name} -> {new_name}",
            )
        )
    if step in MOVING_STEPS:
        checks.append(
            check(
                "server moved",
                new_node != node,
                f"{new_name} runs on {new_node}" + ("" if new_node != node else f", still the {step} node"),
            )
        )
    if step == "stop_process":
        restarts = restart_state(after, container)[0]
        checks.append(
            check(
                "container restarted in place",
                after["metadata"]["uid"] == target["metadata"]["uid"] and restarts > restarts_before,
                f"{new_name} on {new_node}: container {container} restarts {restarts_before} -> {restarts}",
            )
        )
    if step == "drain_all_servers":
        refused = [r for r in refusals if r["status"] == 429]
        checks.append(
            check(
                "disruption budget refused",
                bool(refused),
                "; ".join(f"eviction of {r['pod']} refused (429): {r['message']}" for r in refused)
                or "every server was evicted at once: the PodDisruptionBudget is missing or too loose",
            )
        )
    for claim, before in sorted(claims_before.items()):
        now = claims_after.get(claim)
        same = now == before
        detail = (
            f"{claim} uid {before['uid']} on {before['volume']} (uid {before['volume_uid']})"
            if same
            else f"{claim} was uid {before['uid']} on {before['volume']} (uid {before['volume_uid']}), now "
            + (f"uid {now['uid']} on {now['volume']} (uid {now['volume_uid']})" if now else "not mounted")
        )
        checks.append(check("same claim and volume", same, detail))
    return checks


def failed_checks(checks: list[dict[str, Any]]) -> list[str]:
    return [f"{c['check']}: {c['detail']}" for c in checks if not c["ok"]]
