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
    is_ready,
    live_pods,
)


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
