"""What redundant.kube.app and app_info do against a cluster: deploy, remove, report.

The pure parts (spec, rendering, placement, redundancy, growth planning) live in app_model/; this file
only reads and writes through kube/ and puts the pieces in order.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from typing import Any

from ansible.module_utils.urls import open_url

from ansible_collections.redundant.kube.plugins.module_utils.app_model.growth import plan_growth
from ansible_collections.redundant.kube.plugins.module_utils.app_model.manifest_yaml import (
    dump_yaml,
    manifest_files,
)
from ansible_collections.redundant.kube.plugins.module_utils.app_model.placement import (
    is_ready,
    live_pods,
    pending_hint,
    placement_problems,
    pod_summary,
)
from ansible_collections.redundant.kube.plugins.module_utils.app_model.render import (
    API_VERSIONS,
    HOSTNAME_KEY,
    KIND_ORDER,
    LABEL_INSTANCE,
    LABEL_MANAGED_BY,
    LABEL_WORKLOAD_KIND,
    MANAGED_BY,
    external_key,
    render_app,
)
from ansible_collections.redundant.kube.plugins.module_utils.app_model.spec import (
    AppSpec,
    SpecError,
    parse_quantity,
)
from ansible_collections.redundant.kube.plugins.module_utils.app_model.status import (
    active_by_metadata,
    active_side,
    app_report,
)
from ansible_collections.redundant.kube.plugins.module_utils.digest import content_digest
from ansible_collections.redundant.kube.plugins.module_utils.kube.apply_set import (
    UNCHANGED,
    ApplyResult,
    apply_set,
    delete_set,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.client import KubeError
from ansible_collections.redundant.kube.plugins.module_utils.kube.diff import comparable
from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import Resources
from ansible_collections.redundant.kube.plugins.module_utils.kube.volume_growth import (
    check_expandable,
    grow_offline,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.waiter import wait_for_ready

WORKLOAD_KINDS = ("Deployment", "StatefulSet")
_RENDERED_FILE = re.compile(r"^\d{3}-[a-z]+-[-a-z0-9.]+\.yaml$")


def app_selector(name: str) -> str:
    return f"{LABEL_INSTANCE}={name},{LABEL_MANAGED_BY}={MANAGED_BY}"


# -- state: rendered ------------------------------------------------------------------------------
def write_rendered(spec: AppSpec, dest: str, check_mode: bool) -> dict[str, Any]:
    """Write one YAML file per object into dest (no cluster involved); remove files of objects gone.

    Objects owned by other modules (license, keystore) have no checksum annotation here: their digest
    is only known from a live cluster."""
    files = manifest_files(render_app(spec, {}))
    existing = {f for f in os.listdir(dest) if _RENDERED_FILE.match(f)} if os.path.isdir(dest) else set()
    written, removed = [], sorted(existing - set(files))
    for name, text in files.items():
        path = os.path.join(dest, name)
        if name in existing:
            with open(path, encoding="utf-8") as handle:
                if handle.read() == text:
                    continue
        written.append(name)
    if not check_mode:
        os.makedirs(dest, exist_ok=True)
        for name in written:
            with open(os.path.join(dest, name), "w", encoding="utf-8") as handle:
                handle.write(files[name])
        for name in removed:
            os.unlink(os.path.join(dest, name))
    return {
        "changed": bool(written or removed),
        "dest": dest,
        "files": sorted(files),
        "written": written,
        "removed": removed,
    }


# -- state: present ---------------------------------------------------------------------------------
def external_digests(
    resources: Resources, spec: AppSpec, check_mode: bool = False
) -> tuple[dict[str, str], list[str]]:
    """Live digests of the Secrets/ConfigMaps the app mounts but others own (license, keystore, env).

    A missing one fails, naming what creates it - except in check mode, where an earlier stage of the same
    check run (keystore, license) would have created it: it is returned in the second list instead
    ("would need ..."), and its digest is a placeholder."""
    wanted = [(m.kind, m.name, m.option) for m in spec.external_mounts]
    wanted += [("Secret", s, "env_from_secrets") for s in spec.env_from_secrets]
    digests = {}
    pending = []
    for kind, name, option in wanted:
        live = resources.get("v1", kind, name, spec.namespace)
        creator = f"redundant.kube.{option if option in ('license', 'keystore') else 'k8s or kubectl'}"
        if live is None and check_mode:
            pending.append(
                f"{option}: {kind} {name} does not exist in namespace {spec.namespace} yet (check mode: an "
                f"earlier stage of the run, {creator}, would create it; a real run without it fails here)"
            )
            digests[external_key(kind, name)] = "absent"
            continue
        if live is None:
            raise KubeError(
                f"{option}: {kind} {name} does not exist in namespace {spec.namespace}: create it first ({creator})"
            )
        digests[external_key(kind, name)] = content_digest(live)
    return digests, pending


def _diff(result: ApplyResult) -> dict[str, str]:
    changed = [c for c in result.changes if c.action != UNCHANGED]
    return {
        "before": "".join("---\n" + dump_yaml(comparable(c.before)) for c in changed if c.before),
        "after": "".join("---\n" + dump_yaml(comparable(c.after)) for c in changed if c.after),
    }


def _live_for_growth(resources: Resources, spec: AppSpec, manifests: list[dict[str, Any]]):
    if resources.get("v1", "Namespace", spec.namespace) is None:
        return {}, {}
    claims = {
        c["metadata"]["name"]: c
        for c in resources.list(
            "v1", "PersistentVolumeClaim", spec.namespace, label_selector=app_selector(spec.name)
        )
    }
    sets = {}
    for obj in manifests:
        if obj["kind"] == "StatefulSet":
            live = resources.get("apps/v1", "StatefulSet", obj["metadata"]["name"], spec.namespace)
            if live:
                sets[obj["metadata"]["name"]] = live
    return claims, sets


def wait_and_check_placement(
    resources: Resources, spec: AppSpec, workloads: list[dict[str, Any]], timeout: float
):
    """Wait for rollout, then verify where the scheduler put the pods. KubeError with the reason if not."""
    try:
        wait_for_ready(resources, workloads, timeout)
    except KubeError as exc:
        hint = pending_hint(str(exc), spec.topology, spec.topology_key)
        raise KubeError(f"{exc}{' -- ' + hint if hint else ''}") from None
    pods = resources.list("v1", "Pod", spec.namespace, label_selector=app_selector(spec.name))
    nodes: dict[str, dict[str, str]] = {}
    if spec.topology_key != HOSTNAME_KEY:
        nodes = {
            n["metadata"]["name"]: n["metadata"].get("labels") or {} for n in resources.list("v1", "Node")
        }
    problems = placement_problems(pods, nodes, spec.topology, spec.topology_key, spec.replicas)
    if problems:
        raise KubeError("placement check failed: " + "; ".join(problems))
    return sorted(
        (pod_summary(p) for p in pods if not p["metadata"].get("deletionTimestamp")), key=lambda p: p["name"]
    )


def deploy(resources: Resources, spec: AppSpec, check_mode: bool, diff: bool, wait: bool, timeout: float):
    digests, pending = external_digests(resources, spec, check_mode)
    manifests = render_app(spec, digests)
    live_claims, live_sets = _live_for_growth(resources, spec, manifests)
    try:
        pinned, growths = plan_growth(manifests, live_claims, live_sets)
    except SpecError as exc:
        raise KubeError(str(exc)) from None
    for growth in growths:
        check_expandable(resources, live_claims[growth.claim])
    result = apply_set(resources, pinned, check_mode=check_mode)
    messages: list[str] = []
    if growths and check_mode:
        messages = [
            f"would grow claim {g.claim} from {g.old} to {g.new} with its workloads scaled to 0"
            for g in growths
        ]
    elif growths:
        users = list(dict.fromkeys(u for g in growths for u in g.users))
        restore = [m for m in pinned if (m["kind"], m["metadata"]["name"]) in users]
        messages = grow_offline(
            resources,
            spec.namespace,
            [(g.claim, g.old, g.new) for g in growths],
            users,
            restore,
            timeout,
            parse_quantity,
        )
    output: dict[str, Any] = {
        "changed": result.changed or bool(growths),
        "objects": [c.summary() for c in result.changes],
        "volume_growth": messages,
        "missing_dependencies": pending,
        "pods": [],
    }
    if diff:
        output["diff"] = _diff(result)
    if wait and not check_mode:
        workloads = [m for m in manifests if m["kind"] in WORKLOAD_KINDS]
        output["pods"] = wait_and_check_placement(resources, spec, workloads, timeout)
    return output


# -- state: absent ----------------------------------------------------------------------------------
def remove(
    resources: Resources,
    name: str,
    namespace: str,
    delete_volumes: bool,
    check_mode: bool,
    wait: bool,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Delete every object of the app (found by its labels), newest kinds first; claims only on request."""
    if resources.get("v1", "Namespace", namespace) is None:
        return {"changed": False, "objects": [], "kept_volumes": []}
    found, kept = [], []
    for kind in reversed(KIND_ORDER):
        if kind == "Namespace":
            continue
        objects = resources.list(API_VERSIONS[kind], kind, namespace, label_selector=app_selector(name))
        if kind == "PersistentVolumeClaim" and not delete_volumes:
            kept = sorted(o["metadata"]["name"] for o in objects)
            continue
        found += objects
    changes = delete_set(resources, found, check_mode)
    if wait and not check_mode and changes:
        deadline = time.monotonic() + timeout
        while resources.list("v1", "Pod", namespace, label_selector=app_selector(name)):
            if time.monotonic() > deadline:
                raise KubeError(
                    f"objects of {name} deleted, but its pods were still terminating after {timeout:g}s"
                )
            sleep(0.5)
    return {"changed": bool(changes), "objects": [c.summary() for c in changes], "kept_volumes": kept}


# -- app_info ---------------------------------------------------------------------------------------
def report(
    resources: Resources, name: str, namespace: str, probe_active: Callable[[dict, list], list] | None = None
):
    """app_info's result: workloads, pods, claims, redundancy with reasons, active side."""
    if resources.get("v1", "Namespace", namespace) is None:
        return app_report([], [], [], [], {})
    selector = app_selector(name)
    workloads = [
        w
        for kind in WORKLOAD_KINDS
        for w in resources.list("apps/v1", kind, namespace, label_selector=selector)
    ]
    pods = resources.list("v1", "Pod", namespace, label_selector=selector)
    claims = resources.list("v1", "PersistentVolumeClaim", namespace, label_selector=selector)
    pdbs = resources.list("policy/v1", "PodDisruptionBudget", namespace, label_selector=selector)
    nodes = {}
    for node in resources.list("v1", "Node"):
        ready = next(
            (c for c in node.get("status", {}).get("conditions") or [] if c.get("type") == "Ready"), {}
        )
        nodes[node["metadata"]["name"]] = {
            "labels": node["metadata"].get("labels") or {},
            "ready": ready.get("status") == "True",
            "unschedulable": bool(node.get("spec", {}).get("unschedulable")),
        }
    result = app_report(workloads, pods, claims, pdbs, nodes)
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
        from kubernetes.client import CoreV1Api
        from kubernetes.stream import stream

        try:
            session = stream(
                CoreV1Api(api_client).connect_get_namespaced_pod_exec,
                pod["metadata"]["name"],
                namespace,
                command=probe["command"],
                stdout=True,
                stderr=True,
                stdin=False,
                tty=False,
                _preload_content=False,
            )
            session.run_forever(timeout=timeout)
            return session.returncode == 0
        except Exception:  # any failure to exec means "not shown to be active"
            return False

    def probe_all(probe: dict[str, Any], pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
        servers = [
            p
            for p in live_pods(pods)
            if (p["metadata"].get("labels") or {}).get(LABEL_WORKLOAD_KIND) == "server" and is_ready(p)
        ]
        return [p for p in servers if ask(p, probe)]

    return probe_all
