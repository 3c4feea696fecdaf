# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a cluster's nodes say about themselves, and which expected nodes are missing or not Ready."""

from __future__ import annotations

from typing import Any


def node_summary(node: dict[str, Any]) -> dict[str, Any]:
    """One node as reported to the user. Pure."""
    meta, status = node["metadata"], node.get("status", {})
    labels = meta.get("labels") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    return {
        "name": meta["name"],
        "ready": ready.get("status") == "True",
        "ready_reason": ready.get("reason") or ready.get("message") or "no Ready condition reported yet",
        "unschedulable": bool(node.get("spec", {}).get("unschedulable")),
        "roles": roles,
        "zone": labels.get("topology.kubernetes.io/zone"),
        "kubelet_version": status.get("nodeInfo", {}).get("kubeletVersion"),
        "taints": [f"{t['key']}:{t['effect']}" for t in node.get("spec", {}).get("taints") or []],
    }


def node_problems(summaries: list[dict[str, Any]], expected: list[str]) -> list[str]:
    """One line per expected node that has not joined or is not Ready, with the reason observed. Pure."""
    by_name = {s["name"]: s for s in summaries}
    problems = []
    for name in expected:
        node = by_name.get(name)
        if node is None:
            problems.append(
                f"node {name} has not joined: no Node object with that name (check its kubelet/agent)"
            )
        elif not node["ready"]:
            problems.append(f"node {name} is not Ready: {node['ready_reason']}")
        elif node["unschedulable"]:
            problems.append(f"node {name} is cordoned (unschedulable): uncordon it when maintenance is over")
    return problems
