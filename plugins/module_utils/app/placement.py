# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where an app's pods landed, and whether that placement keeps the promises of its topology. Pure.

Input is what the API server returns (pods and nodes as dicts); the labels are the ones render.py puts
on every pod template, so this works for any app the module deployed, from its objects alone.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.redundant.kube.plugins.module_utils.kube.objects import (
    HOSTNAME_KEY,
    LABEL_COMPONENT,
    LABEL_SIDE,
    LABEL_WORKLOAD_KIND,
    condition,
    is_ready,
    live_pods,
)

# Taints the node lifecycle puts on and takes off by itself (not-ready, unreachable, cordoned, pressure):
# a pod they keep out may be placed once they are gone, so they never make a placement impossible.
_TRANSIENT_TAINT_PREFIX = "node.kubernetes.io/"
_BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")
SIDES_OF_A_PAIR = 2


def pod_summary(pod: dict[str, Any]) -> dict[str, Any]:
    labels = pod["metadata"].get("labels") or {}
    statuses = pod.get("status", {}).get("containerStatuses") or []
    return {
        "name": pod["metadata"]["name"],
        "workload": labels.get(LABEL_COMPONENT),
        "kind": labels.get(LABEL_WORKLOAD_KIND),
        "side": labels.get(LABEL_SIDE),
        "node": pod.get("spec", {}).get("nodeName"),
        "phase": pod.get("status", {}).get("phase", "Pending"),
        "ready": is_ready(pod),
        "restarts": sum(s.get("restartCount", 0) for s in statuses),
        # Deleted or evicted, not gone yet: a pod on a node that was lost stays so until its kubelet is back.
        "terminating": bool(pod["metadata"].get("deletionTimestamp")),
    }


def domain(node: str | None, nodes: dict[str, dict[str, str]], topology_key: str) -> str | None:
    """The value of topology_key on a node (its failure domain); the hostname key falls back to the name."""
    if node is None:
        return None
    labels = nodes.get(node, {})
    if topology_key == HOSTNAME_KEY:
        return labels.get(HOSTNAME_KEY, node)
    return labels.get(topology_key)


def placement_problems(
    pods: list[dict[str, Any]],
    nodes: dict[str, dict[str, str]],
    topology: str,
    topology_key: str,
    replicas: int = 1,
) -> list[str]:
    """Broken placement promises, one sentence each; [] when A and B are apart, every companion is on
    its server's node and cluster members are spread. `nodes` maps node name -> labels."""
    problems = []
    scheduled = [pod_summary(p) for p in live_pods(pods) if p.get("spec", {}).get("nodeName")]
    servers = {p["side"]: p for p in scheduled if p["kind"] == "server"}
    if topology == "pair":
        a, b = servers.get("a"), servers.get("b")
        if a and b:
            where_a, where_b = domain(a["node"], nodes, topology_key), domain(b["node"], nodes, topology_key)
            if where_a is None or where_a == where_b:
                problems.append(
                    f"servers A ({a['name']}) and B ({b['name']}) both run in {topology_key}={where_a}: "
                    "one failure takes both sides"
                )
    if topology in ("pair", "single"):
        for pod in scheduled:
            if pod["kind"] == "server":
                continue
            server = servers.get(pod["side"])
            if server and server["node"] != pod["node"]:
                side = f" of side {pod['side'].upper()}" if pod["side"] else ""
                problems.append(
                    f"{pod['name']}{side} runs on {pod['node']}, its server {server['name']} on {server['node']}"
                )
    if topology == "cluster" and replicas > 1:
        members = [p for p in scheduled if p["kind"] == "server"]
        domains = {domain(p["node"], nodes, topology_key) for p in members}
        if len(members) > 1 and len(domains) < 2:
            problems.append(
                f"all {len(members)} members run in {topology_key}={next(iter(domains))}: one failure takes them all"
            )
    return problems


def pending_hint(message: str, topology: str, topology_key: str) -> str:
    """A sentence explaining a scheduler refusal in the app's terms, or '' when none applies."""
    if topology == "pair" and "anti-affinity" in message:
        return (
            f"servers A and B have required anti-affinity: they need two nodes with different {topology_key}"
        )
    if topology == "cluster" and "topology spread" in message:
        return f"cluster members spread with maxSkew 1 over {topology_key}: add nodes or lower replicas"
    if "pod affinity" in message:
        return "companions run only beside their side's server: they wait until that server is scheduled"
    return ""


def _tolerated(taint: dict[str, Any], tolerations: list[dict[str, Any]]) -> bool:
    for toleration in tolerations:
        if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
            continue
        if toleration.get("operator") == "Exists" and not toleration.get("key"):
            return True
        if toleration.get("key") == taint.get("key") and (
            toleration.get("operator") == "Exists" or toleration.get("value", "") == taint.get("value", "")
        ):
            return True
    return False


def eligible_nodes(pod: dict[str, Any], nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Nodes the pod could ever run on: they carry its nodeSelector labels and every lasting taint is tolerated.
    Cordoned and NotReady nodes count: they may come back."""
    spec = pod.get("spec", {})
    selector = spec.get("nodeSelector") or {}
    tolerations = spec.get("tolerations") or []
    return [
        node
        for node in nodes
        if all((node["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
        and all(
            _tolerated(taint, tolerations)
            for taint in node.get("spec", {}).get("taints") or []
            if taint.get("effect") in _BLOCKING_EFFECTS
            and not taint.get("key", "").startswith(_TRANSIENT_TAINT_PREFIX)
        )
    ]


def unschedulable_for_good(
    pod: dict[str, Any],
    nodes: list[dict[str, Any]],
    claims: dict[str, dict[str, Any]],
    storage_classes: set[str],
) -> str:
    """Why the scheduler cannot place this pod on this cluster however long one waits: its own message and the
    cause ('' when waiting may still help: the pod is placed, merely slow, or kept out by nodes that are
    cordoned, NotReady or full). `claims` maps claim name -> claim of the pod's namespace. Pure."""
    scheduled = condition(pod, "PodScheduled")
    if scheduled.get("status") != "False" or pod["metadata"].get("deletionTimestamp"):
        return ""
    said = f"pod {pod['metadata']['name']} is Pending: {scheduled.get('message') or scheduled.get('reason')}"
    spec = pod.get("spec", {})
    for volume in spec.get("volumes") or []:
        claim = claims.get((volume.get("persistentVolumeClaim") or {}).get("claimName"))
        wanted = (claim or {}).get("spec", {}).get("storageClassName")
        if claim and wanted and wanted not in storage_classes and not claim["spec"].get("volumeName"):
            return f"{said} (claim {claim['metadata']['name']} asks for StorageClass {wanted}, which does not exist)"
    eligible = eligible_nodes(pod, nodes)
    if not eligible:
        wanted_labels = ", ".join(f"{k}={v}" for k, v in sorted((spec.get("nodeSelector") or {}).items()))
        return f"{said} (no node of the cluster has {wanted_labels or 'taints this pod tolerates'})"
    anti = (spec.get("affinity") or {}).get("podAntiAffinity") or {}
    for term in anti.get("requiredDuringSchedulingIgnoredDuringExecution") or []:
        key = term.get("topologyKey", HOSTNAME_KEY)
        domains = {(n["metadata"].get("labels") or {}).get(key) for n in eligible} - {None}
        if len(domains) < SIDES_OF_A_PAIR:
            return (
                f"{said} (servers A and B must run in different {key}, and the nodes they may use have "
                f"{len(domains)}: add a node or set topology_key)"
            )
    return ""


def placement_verdicts(
    pods: list[dict[str, Any]],
    nodes: list[dict[str, Any]],
    claims: list[dict[str, Any]],
    storage_classes: set[str],
) -> list[str]:
    """unschedulable_for_good for every pod of an app that has such a verdict. Pure."""
    by_name = {c["metadata"]["name"]: c for c in claims}
    return [
        verdict for pod in pods if (verdict := unschedulable_for_good(pod, nodes, by_name, storage_classes))
    ]
