# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is a deployed app really redundant? A report from its live objects, with one reason per broken promise. Pure."""

from __future__ import annotations

import json
from typing import Any

from ansible_collections.redundant.kube.plugins.module_utils.app.placement import (
    placement_problems,
    pod_summary,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.objects import (
    ANNOTATION_ACTIVE_PROBE,
    ANNOTATION_TOPOLOGY,
    ANNOTATION_TOPOLOGY_KEY,
    HOSTNAME_KEY,
    LABEL_COMPONENT,
    LABEL_SIDE,
    LABEL_WORKLOAD_KIND,
    is_ready,
    live_pods,
)


def workload_summary(obj: dict[str, Any]) -> dict[str, Any]:
    labels = obj["metadata"].get("labels") or {}
    status = obj.get("status", {})
    return {
        "name": obj["metadata"]["name"],
        "kind": obj["kind"],
        "workload": labels.get(LABEL_COMPONENT),
        "workload_kind": labels.get(LABEL_WORKLOAD_KIND),
        "side": labels.get(LABEL_SIDE),
        "replicas": obj.get("spec", {}).get("replicas", 1),
        "ready_replicas": status.get("readyReplicas", 0),
    }


def _down(summary: dict[str, Any]) -> bool:
    """Fewer Ready pods than wanted - or none wanted: every workload of a pair or single runs one pod, and one
    scaled to 0 (by hand, or while a volume grows) is down, however "complete" its rollout. Pure."""
    return summary["ready_replicas"] < max(summary["replicas"], 1)


def _readiness(summary: dict[str, Any]) -> str:
    scaled = " (scaled to 0)" if summary["replicas"] == 0 else ""
    return f"{summary['ready_replicas']}/{summary['replicas']} ready{scaled}"


def claim_summary(claim: dict[str, Any]) -> dict[str, Any]:
    labels = claim["metadata"].get("labels") or {}
    return {
        "name": claim["metadata"]["name"],
        "phase": claim.get("status", {}).get("phase", "Pending"),
        "size": claim.get("spec", {}).get("resources", {}).get("requests", {}).get("storage"),
        "capacity": claim.get("status", {}).get("capacity", {}).get("storage"),
        "storage_class": claim.get("spec", {}).get("storageClassName"),
        "side": labels.get(LABEL_SIDE),
    }


def app_topology(workloads: list[dict[str, Any]]) -> tuple[str | None, str, dict[str, Any] | None]:
    """(topology, topology_key, active_probe) as the app module recorded them on its workloads."""
    topology, key, probe = None, HOSTNAME_KEY, None
    for obj in workloads:
        annotations = obj["metadata"].get("annotations") or {}
        topology = topology or annotations.get(ANNOTATION_TOPOLOGY)
        key = annotations.get(ANNOTATION_TOPOLOGY_KEY, key)
        if annotations.get(ANNOTATION_ACTIVE_PROBE) and probe is None:
            probe = json.loads(annotations[ANNOTATION_ACTIVE_PROBE])
    return topology, key, probe


def active_by_metadata(pods: list[dict[str, Any]], probe: dict[str, Any]) -> list[dict[str, Any]]:
    """Server pods the application marks as active with a label or annotation (active_probe type label/annotation)."""
    field = "labels" if probe["type"] == "label" else "annotations"
    return [
        p
        for p in live_pods(pods)
        if (p["metadata"].get("labels") or {}).get(LABEL_WORKLOAD_KIND) == "server"
        and (p["metadata"].get(field) or {}).get(probe["key"]) == probe["value"]
    ]


def redundancy_reasons(
    topology: str,
    topology_key: str,
    workloads: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    claims: list[dict[str, Any]],
    pdbs: list[dict[str, Any]],
    nodes: dict[str, dict[str, Any]],
) -> list[str]:
    """Why the app is not redundant right now; [] when it is.

    `nodes` maps node name -> {"labels": {...}, "ready": bool, "unschedulable": bool}.
    """
    reasons = []
    summaries = [workload_summary(w) for w in workloads]
    if topology == "pair":
        for side in ("a", "b"):
            down = sorted(
                (w for w in summaries if w["side"] == side and _down(w)),
                key=lambda w: (w["workload_kind"] != "server", w["name"]),
            )
            if down:
                names = ", ".join(f"{w['name']} {_readiness(w)}" for w in down)
                reasons.append(f"side {side.upper()} is down or degraded: {names}")
    elif topology == "single":
        for w in summaries:
            if _down(w):
                reasons.append(f"{w['name']} is down: {_readiness(w)}")
        usable = [n for n, info in nodes.items() if info.get("ready") and not info.get("unschedulable")]
        if len(usable) < 2:
            reasons.append(
                f"only {len(usable)} schedulable Ready node(s): a single instance has nowhere to fail over to"
            )
    elif topology == "cluster":
        for w in summaries:
            if w["replicas"] < 2:
                reasons.append(f"{w['name']} has {w['replicas']} member: a cluster of one is not redundant")
            elif w["ready_replicas"] < 2:
                reasons.append(
                    f"{w['name']} has {w['ready_replicas']}/{w['replicas']} members ready: fewer than two"
                )
    replicas = max((w["replicas"] for w in summaries if w["workload_kind"] == "server"), default=1)
    labels = {name: info.get("labels", {}) for name, info in nodes.items()}
    reasons += placement_problems(pods, labels, topology, topology_key, replicas)
    for claim in claims:
        phase = claim.get("status", {}).get("phase", "Pending")
        if phase != "Bound":
            reasons.append(f"PersistentVolumeClaim {claim['metadata']['name']} is {phase} (unbound)")
    needs_budget = topology == "pair" or (topology == "cluster" and replicas > 1)
    if needs_budget and not pdbs:
        reasons.append("PodDisruptionBudget missing: a node drain may take every server at once")
    return reasons


def app_report(
    workloads: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    claims: list[dict[str, Any]],
    pdbs: list[dict[str, Any]],
    nodes: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """The app_info result apart from the active side (which may need exec/HTTP calls)."""
    topology, topology_key, probe = app_topology(workloads)
    if topology is None:
        return {
            "exists": False,
            "redundant": False,
            "reasons": ["no workloads of this app found"],
            "workloads": [],
            "pods": [],
            "claims": [],
            "active_probe": None,
        }
    reasons = redundancy_reasons(topology, topology_key, workloads, pods, claims, pdbs, nodes)
    return {
        "exists": True,
        "topology": topology,
        "topology_key": topology_key,
        "workloads": sorted((workload_summary(w) for w in workloads), key=lambda w: w["name"]),
        "pods": sorted((pod_summary(p) for p in pods), key=lambda p: p["name"]),
        "claims": sorted((claim_summary(c) for c in claims), key=lambda c: c["name"]),
        "disruption_budgets": sorted(p["metadata"]["name"] for p in pdbs),
        "redundant": not reasons,
        "reasons": reasons,
        "active_probe": probe,
    }


def active_side(active_pods: list[dict[str, Any]]) -> str | None:
    """The side whose server is active; None when no side or both claim it (say so in reasons)."""
    sides = {(p["metadata"].get("labels") or {}).get(LABEL_SIDE) for p in active_pods if is_ready(p)}
    return sides.pop() if len(sides) == 1 else None
