# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An app's live state as app_info reports it: workloads, pods, claims, redundancy, the active side.

Read through kube/ only. The app, license and drill runtimes all judge an app by this one report, so
app_info, a license push and a drill can never disagree on what "redundant" or "active" means.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible.module_utils.urls import open_url

from ansible_collections.redundant.kube.plugins.module_utils.app.placement import placement_verdicts
from ansible_collections.redundant.kube.plugins.module_utils.app.status import (
    active_by_metadata,
    active_side,
    app_report,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.client import KubeError
from ansible_collections.redundant.kube.plugins.module_utils.kube.objects import (
    APP_WORKLOAD_KINDS,
    LABEL_WORKLOAD_KIND,
    app_selector,
    condition,
    exec_in_pod,
    is_ready,
    live_pods,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import Resources


def report(
    resources: Resources, name: str, namespace: str, probe_active: Callable[[dict, list], list] | None = None
):
    """app_info's result: workloads, pods, claims, redundancy with reasons, active side."""
    if resources.get("v1", "Namespace", namespace) is None:
        missing = app_report([], [], [], [], {})
        missing["reasons"] = [f"namespace {namespace} does not exist"]
        return {**missing, "active_side": None, "active_pods": []}
    selector = app_selector(name)
    workloads = [
        w
        for kind in APP_WORKLOAD_KINDS
        for w in resources.list("apps/v1", kind, namespace, label_selector=selector)
    ]
    pods = resources.list("v1", "Pod", namespace, label_selector=selector)
    claims = resources.list("v1", "PersistentVolumeClaim", namespace, label_selector=selector)
    pdbs = resources.list("policy/v1", "PodDisruptionBudget", namespace, label_selector=selector)
    live_nodes = resources.list("v1", "Node")
    nodes = {}
    for node in live_nodes:
        nodes[node["metadata"]["name"]] = {
            "labels": node["metadata"].get("labels") or {},
            "ready": is_ready(node),
            "unschedulable": bool(node.get("spec", {}).get("unschedulable")),
        }
    result = app_report(workloads, pods, claims, pdbs, nodes)
    verdicts = scheduling_verdicts(resources, pods, lambda: claims, lambda: live_nodes)
    result["reasons"] += verdicts
    result["redundant"] = result["redundant"] and not verdicts
    probe = result.get("active_probe")
    result["active_side"], result["active_pods"] = None, []
    if probe:
        if probe["type"] in ("label", "annotation"):
            active = active_by_metadata(pods, probe)
        elif probe_active is not None:
            active = probe_active(probe, pods)
        else:
            active = []
        result["active_pods"] = sorted(p["metadata"]["name"] for p in active)
        result["active_side"] = active_side(active) if result["topology"] == "pair" else None
    return result


def scheduling_verdicts(
    resources: Resources,
    pods: list[dict[str, Any]],
    claims: Callable[[], list[dict[str, Any]]],
    nodes: Callable[[], list[dict[str, Any]]],
) -> list[str]:
    """placement_verdicts for the pods of an app; claims, nodes and StorageClasses are read only when the
    scheduler has refused one of them."""
    if not any(condition(p, "PodScheduled").get("status") == "False" for p in pods):
        return []
    classes = {c["metadata"]["name"] for c in resources.list("storage.k8s.io/v1", "StorageClass")}
    return placement_verdicts(pods, nodes(), claims(), classes)


def call_probe(api_client: Any, namespace: str, timeout: float = 5) -> Callable[[dict, list], list]:
    """active_probe of type exec/http: ask each Ready server pod; the ones that answer yes are active."""

    def ask(pod: dict[str, Any], probe: dict[str, Any]) -> bool:
        if probe["type"] == "http" and probe.get("via") == "api_server":
            status = Resources(api_client).pod_proxy_status(
                namespace, pod["metadata"]["name"], probe["port"], probe["path"], probe["scheme"], timeout
            )
            return status == 200
        if probe["type"] == "http":
            ip = pod.get("status", {}).get("podIP")
            if not ip:
                return False
            url = f"{probe['scheme']}://{ip}:{probe['port']}{probe['path']}"
            try:
                # Pods serve self-signed certificates; the question is only "are you the active one?".
                response = open_url(url, timeout=timeout, validate_certs=False)
                return response.status == 200
            except (OSError, ValueError):  # refused, timed out, or an HTTP error status
                return False
        try:
            return exec_in_pod(api_client, namespace, pod["metadata"]["name"], probe["command"], timeout) == 0
        except KubeError:  # refused by the API server (RBAC): the user's to fix, not "not active"
            raise
        except Exception:  # any other failure to exec means "not shown to be active"
            return False

    def probe_all(probe: dict[str, Any], pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
        servers = [
            p
            for p in live_pods(pods)
            if (p["metadata"].get("labels") or {}).get(LABEL_WORKLOAD_KIND) == "server" and is_ready(p)
        ]
        return [p for p in servers if ask(p, probe)]

    return probe_all
