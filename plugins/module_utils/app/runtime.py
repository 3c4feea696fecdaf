# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What redundant.kube.app does against a cluster: render to files, deploy, remove.

The pure parts (spec, rendering, placement, redundancy, growth planning) live beside this file; reading
an app's live state (app_info's report) is report.py, which the license and drill runtimes share. This
file only reads and writes through kube/ and puts the pieces in order.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from typing import Any

from ansible_collections.redundant.kube.plugins.module_utils.app.growth import plan_growth
from ansible_collections.redundant.kube.plugins.module_utils.app.manifest_yaml import (
    dump_yaml,
    manifest_files,
)
from ansible_collections.redundant.kube.plugins.module_utils.app.placement import (
    pending_hint,
    placement_problems,
    pod_summary,
)
from ansible_collections.redundant.kube.plugins.module_utils.app.render import (
    API_VERSIONS,
    KIND_ORDER,
    external_key,
    render_app,
)
from ansible_collections.redundant.kube.plugins.module_utils.app.report import scheduling_verdicts
from ansible_collections.redundant.kube.plugins.module_utils.app.spec import (
    AppSpec,
    SpecError,
    parse_quantity,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.apply_set import (
    UNCHANGED,
    ApplyResult,
    Change,
    apply_set,
    delete_set,
    prune_candidates,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.client import KubeError
from ansible_collections.redundant.kube.plugins.module_utils.kube.diff import comparable
from ansible_collections.redundant.kube.plugins.module_utils.kube.objects import (
    APP_WORKLOAD_KINDS,
    HOSTNAME_KEY,
    app_selector,
    content_digest,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import Resources
from ansible_collections.redundant.kube.plugins.module_utils.kube.volume_growth import (
    check_expandable,
    grow_offline,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.waiter import poll, wait_for_ready

_RENDERED_FILE = re.compile(r"^\d{3}-[a-z]+-[-a-z0-9.]+\.yaml$")


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


def impossible_placement(resources: Resources, spec: AppSpec) -> list[str]:
    """The scheduler's verdicts on pods of the app it cannot place on this cluster whatever the wait."""
    selector = app_selector(spec.name)
    return scheduling_verdicts(
        resources,
        resources.list("v1", "Pod", spec.namespace, label_selector=selector),
        lambda: resources.list("v1", "PersistentVolumeClaim", spec.namespace, label_selector=selector),
        lambda: resources.list("v1", "Node"),
    )


def wait_and_check_placement(
    resources: Resources, spec: AppSpec, workloads: list[dict[str, Any]], timeout: float
):
    """Wait for rollout, then verify where the scheduler put the pods. KubeError with the reason if not."""
    try:
        wait_for_ready(
            resources, workloads, timeout, hopeless=lambda: "; ".join(impossible_placement(resources, spec))
        )
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


def owned_objects(resources: Resources, name: str, namespace: str) -> list[dict[str, Any]]:
    """Every object of the app in its namespace (by its labels), newest kinds first; none without the namespace."""
    if resources.get("v1", "Namespace", namespace) is None:
        return []
    return [
        obj
        for kind in reversed(KIND_ORDER)
        if kind != "Namespace"
        for obj in resources.list(API_VERSIONS[kind], kind, namespace, label_selector=app_selector(name))
    ]


def prune(
    resources: Resources,
    spec: AppSpec,
    manifests: list[dict[str, Any]],
    delete_volumes: bool,
    check_mode: bool,
) -> tuple[list[Change], list[str]]:
    """Delete (dry-run in check mode) the objects this module applied for the app that the spec no longer
    renders. Claims stay unless delete_volumes: their names are returned as kept."""
    stale = prune_candidates(
        owned_objects(resources, spec.name, spec.namespace), manifests, resources.field_manager
    )
    doomed, kept = _spare_claims(stale, delete_volumes)
    return delete_set(resources, doomed, check_mode), kept


def _spare_claims(
    objects: list[dict[str, Any]], delete_volumes: bool
) -> tuple[list[dict[str, Any]], list[str]]:
    """(objects to delete, names of the claims kept): claims hold data and go only with delete_volumes."""
    if delete_volumes:
        return objects, []
    claims = sorted(o["metadata"]["name"] for o in objects if o["kind"] == "PersistentVolumeClaim")
    return [o for o in objects if o["kind"] != "PersistentVolumeClaim"], claims


def deploy(
    resources: Resources,
    spec: AppSpec,
    check_mode: bool,
    diff: bool,
    wait: bool,
    timeout: float,
    delete_volumes: bool = False,
):
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
    pruned, kept = prune(resources, spec, pinned, delete_volumes, check_mode)
    result.changes += pruned
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
        "pruned": [f"{c.manifest['kind']}/{c.manifest['metadata']['name']}" for c in pruned],
        "kept_volumes": kept,
    }
    if diff:
        output["diff"] = _diff(result)
    if wait and not check_mode:
        workloads = [m for m in manifests if m["kind"] in APP_WORKLOAD_KINDS]
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
    doomed, kept = _spare_claims(owned_objects(resources, name, namespace), delete_volumes)
    changes = delete_set(resources, doomed, check_mode)
    if wait and not check_mode and changes:
        poll(
            lambda: (not resources.list("v1", "Pod", namespace, label_selector=app_selector(name)), None),
            time.monotonic() + timeout,
            lambda _: f"objects of {name} deleted, but its pods were still terminating after {timeout:g}s",
            sleep=sleep,
        )
    return {"changed": bool(changes), "objects": [c.summary() for c in changes], "kept_volumes": kept}
