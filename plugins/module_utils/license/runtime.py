# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What redundant.kube.license does against a cluster: store the license, then restart the workloads that
use it one at a time, passive side first, waiting for Ready before the next.

The decisions (content, validation, which workloads, which order, what is stale) are pure functions in
license.py; this file reads and writes through kube/ and puts the steps in order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.redundant.kube.plugins.module_utils.app.report import call_probe
from ansible_collections.redundant.kube.plugins.module_utils.app.status import (
    active_by_metadata,
    app_topology,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.apply_set import Change, apply_set
from ansible_collections.redundant.kube.plugins.module_utils.kube.client import KubeError
from ansible_collections.redundant.kube.plugins.module_utils.kube.objects import (
    WORKLOAD_KINDS,
    app_selector,
    checksum_annotation_key,
    content_digest,
    label_selector,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import Resources
from ansible_collections.redundant.kube.plugins.module_utils.kube.waiter import (
    poll,
    wait_for_ready,
    workload_problems,
)
from ansible_collections.redundant.kube.plugins.module_utils.license.rules import (
    Consumer,
    active_sides,
    checksum_patch,
    consumer,
    current_entry,
    entry_bytes,
    failure_conditions,
    license_manifest,
    needs_restart,
    other_sides,
    pod_restart_order,
    references,
    replacement_ready,
    rollout_order,
    sha256,
    stale_pods,
    template_annotation,
    template_restart_problem,
)

# The pod-template annotation is changed with a merge patch under its own manager name, so managedFields
# show who restarted a workload; the app module's later apply of the same value changes nothing.
RESTART_MANAGER = "redundant.kube-license"


@dataclass(frozen=True)
class LicenseRequest:
    kind: str
    name: str
    namespace: str
    key: str
    entry: tuple[str, str]  # (data|binaryData, stored value)
    app: str | None
    selector: str | None
    require_consumers: bool
    restart: str  # rolling | none
    method: str  # template | delete_pods
    order: str
    timeout: float
    rollback: bool

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


class RolloutError(KubeError):
    """A consumer did not become Ready: the message says which and why; `result` is what was done."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class Scope:
    """The workloads in play: the consumers, and the ones whose readiness says a side is up."""

    consumers: list[dict[str, Any]] = field(default_factory=list)
    workloads: list[dict[str, Any]] = field(default_factory=list)
    pod_selector: str | None = None


def _list_workloads(resources: Resources, namespace: str, selector: str) -> list[dict[str, Any]]:
    return [
        w
        for kind in WORKLOAD_KINDS
        for w in resources.list("apps/v1", kind, namespace, label_selector=selector)
    ]


def find_scope(resources: Resources, req: LicenseRequest, namespace_exists: bool) -> Scope:
    """Consumers of an app are its workloads whose pod template uses the object; with a label selector,
    every workload it matches (the user named them)."""
    if not namespace_exists or not (req.app or req.selector):
        return Scope()
    if req.app:
        selector = app_selector(req.app)
        workloads = _list_workloads(resources, req.namespace, selector)
        key = checksum_annotation_key(req.kind, req.name)
        consumers = [w for w in workloads if references(w, req.kind, req.name, key)]
        # A side is up while its server is: companions without the license do not count.
        servers = [w for w in workloads if consumer(w).role == "server"]
        return Scope(consumers, servers, selector)
    consumers = _list_workloads(resources, req.namespace, req.selector)
    return Scope(consumers, consumers, req.selector)


def find_active_side(
    resources: Resources, req: LicenseRequest, scope: Scope, plan: list[Consumer]
) -> tuple[str | None, list[str]]:
    """(active side, warnings). Only asked when the plan spans two sides and order is passive_first."""
    sides = {c.side for c in plan if c.side}
    if len(sides) < 2 or req.order != "passive_first":
        return None, []
    what = f"app {req.app}" if req.app else f"the workloads matching {req.selector}"
    _topology, _key, probe = app_topology(scope.workloads + scope.consumers)
    if probe is None:
        raise KubeError(
            f"order: passive_first needs an active_probe to find the active side, and {what} records none: "
            "set active_probe on the app, or order: a_first / b_first"
        )
    pods = resources.list("v1", "Pod", req.namespace, label_selector=scope.pod_selector)
    if probe["type"] in ("label", "annotation"):
        marked = active_by_metadata(pods, probe)
        marker = f"their server carries {probe['type']} {probe['key']}={probe['value']}"
    else:
        # exec/http: the app module's own probe call, asked of each Ready server pod.
        marked = call_probe(resources.api_client, req.namespace)(probe, pods)
        marker = f"their server answers the {probe['type']} active_probe"
    active = active_sides(marked)
    if len(active) > 1:
        raise KubeError(
            f"order: passive_first: both sides are active ({marker}); resolve that before pushing a "
            "license, or set order: a_first / b_first"
        )
    if not active:
        return None, [f"no side is active (none where {marker}): restarting side A first"]
    return active.pop(), []


def _api(kind: str) -> str:
    return "apps/v1" if kind in WORKLOAD_KINDS else "v1"


def _get(resources: Resources, namespace: str, c: Consumer) -> dict[str, Any]:
    live = resources.get(_api(c.kind), c.kind, c.name, namespace)
    if live is None:
        raise KubeError(f"{c.label} was deleted while its license was pushed")
    return live


def _pods(resources: Resources, workload: dict[str, Any]) -> list[dict[str, Any]]:
    selector = label_selector(workload.get("spec", {}).get("selector") or {})
    return resources.list("v1", "Pod", workload["metadata"]["namespace"], label_selector=selector)


def _wanted(workload: dict[str, Any]) -> int:
    if workload["kind"] == "DaemonSet":
        return workload.get("status", {}).get("desiredNumberScheduled", 0)
    return workload.get("spec", {}).get("replicas", 1)


def set_checksum(
    resources: Resources, workload: dict[str, Any], annotation_key: str, value: str | None, timeout: float
) -> None:
    """Change the checksum annotation of the pod template (the controller rolls the pods), wait for Ready."""
    meta = workload["metadata"]
    api = _api(workload["kind"])
    path = resources.resource_type(api, workload["kind"]).path(meta["name"], meta["namespace"])
    patched = resources.request(
        "PATCH",
        path,
        body=checksum_patch(annotation_key, value),
        query=[("fieldManager", RESTART_MANAGER)],
        content_type="application/merge-patch+json",
        what=consumer(workload).label,
    )
    patched.setdefault("apiVersion", api)
    patched.setdefault("kind", workload["kind"])
    try:
        wait_for_ready(resources, [patched], timeout)
    except KubeError as exc:
        live = resources.get(api, workload["kind"], meta["name"], meta["namespace"]) or patched
        conditions = failure_conditions(live)
        raise KubeError(str(exc) + (f" [{'; '.join(conditions)}]" if conditions else "")) from None


def delete_pods(
    resources: Resources,
    workload: dict[str, Any],
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Delete the workload's pods one at a time, each time waiting until its replacement is Ready."""
    wanted = _wanted(workload)
    restarted = []
    for pod in pod_restart_order(_pods(resources, workload)):
        name, uid = pod["metadata"]["name"], pod["metadata"]["uid"]
        resources.delete("v1", "Pod", name, workload["metadata"]["namespace"])

        def not_ready_message(_last: None, name: str = name) -> str:
            problems = workload_problems(resources, workload)
            return f"pod {name} was deleted and its replacement is not Ready after {timeout:g}s" + (
                f" ({'; '.join(problems)})" if problems else ""
            )

        poll(
            lambda uid=uid: (replacement_ready(_pods(resources, workload), uid, wanted), None),
            time.monotonic() + timeout,
            not_ready_message,
            interval=0.2,
            sleep=sleep,
        )
        restarted.append(name)
    return restarted


def _restart(
    resources: Resources, req: LicenseRequest, live: dict[str, Any], annotation_key: str, digest: str | None
) -> None:
    if req.method == "template":
        set_checksum(resources, live, annotation_key, digest, req.timeout)
    else:
        delete_pods(resources, live, req.timeout)


def _license_facts(req: LicenseRequest, obj: dict[str, Any] | None) -> dict[str, Any]:
    """What may be shown of the license: digests and size, never the bytes."""
    payload = entry_bytes(req.kind, current_entry(obj, req.key))
    return {
        "digest": content_digest(obj) if obj is not None else None,
        "sha256": sha256(payload),
        "size": len(payload) if payload is not None else None,
    }


def roll_back(
    resources: Resources,
    req: LicenseRequest,
    before: dict[str, Any] | None,
    side_restarts: list[tuple[Consumer, str | None]],
) -> str:
    """Put the previous license back and restart again what this run restarted on the failed side."""
    previous = current_entry(before, req.key)
    if previous is None:
        return f"no rollback: {req.ref} held no {req.key} before this run, the pushed license stays"
    annotation_key = checksum_annotation_key(req.kind, req.name)
    try:
        resources.apply(license_manifest(req.kind, req.name, req.namespace, req.key, previous))
        for c, annotation in side_restarts:
            _restart(resources, req, _get(resources, req.namespace, c), annotation_key, annotation)
    except KubeError as exc:
        return f"rollback failed: {exc}"
    names = ", ".join(c.label for c, _unused in side_restarts)
    return f"rolled back: previous license restored in {req.ref}, restarted again and Ready: {names}"


def plan_restarts(
    resources: Resources,
    req: LicenseRequest,
    scope: Scope,
    before: dict[str, Any] | None,
    digest: str,
    content_changed: bool,
) -> tuple[list[Consumer], str | None, list[str]]:
    """(consumers to restart in order, active side, warnings). Raises KubeError, before anything is
    written, when the order cannot be settled or a workload would not restart one pod at a time."""
    if req.restart != "rolling":
        return [], None, []
    annotation_key = checksum_annotation_key(req.kind, req.name)
    live: dict[Consumer, dict[str, Any]] = {}
    for workload in scope.consumers:
        stale = (
            []
            if req.method == "template" or before is None
            else stale_pods(_pods(resources, workload), before, resources.field_manager)
        )
        if needs_restart(workload, req.method, annotation_key, digest, content_changed, stale):
            live[consumer(workload)] = workload
    active, warnings = find_active_side(resources, req, scope, list(live))
    plan = rollout_order(list(live), req.order, active)
    if req.method == "template":
        problems = [p for c in plan if (p := template_restart_problem(live[c]))]
        if problems:
            raise KubeError("restart_method: template: " + "; ".join(problems))
    return plan, active, warnings


def push_license(
    resources: Resources, req: LicenseRequest, check_mode: bool, want_diff: bool
) -> dict[str, Any]:
    """Store the license, then restart its consumers in order; RolloutError carrying the result when a
    restart fails (after rolling that side back when asked)."""
    namespace_exists = resources.get("v1", "Namespace", req.namespace) is not None
    scope = find_scope(resources, req, namespace_exists)
    what = f"app {req.app}" if req.app else f"selector {req.selector}"
    if req.require_consumers and not scope.consumers:
        raise KubeError(
            f"consumers: no workload of {what} in namespace {req.namespace} uses {req.ref}: deploy it first, "
            "fix consumers, or set require_consumers: false"
        )
    manifests = [license_manifest(req.kind, req.name, req.namespace, req.key, req.entry)]
    if not namespace_exists:
        manifests.insert(0, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": req.namespace}})
    # Dry-run first: the server's answer gives the new digest, and nothing is written before every check passed.
    planned = apply_set(resources, manifests, check_mode=True).changes[-1]
    previous_digest = content_digest(planned.before) if planned.before is not None else None
    digest = content_digest(planned.after or {})
    plan, active, warnings = plan_restarts(
        resources, req, scope, planned.before, digest, digest != previous_digest
    )
    result = _push_result(req, scope, planned, previous_digest, digest, plan, active, warnings, want_diff)
    summary = _summary(req, scope, plan, what, check_mode)
    if check_mode:
        return {**result, "msg": summary}
    digest = content_digest(apply_set(resources, manifests).changes[-1].after or {})
    restart_in_order(resources, req, scope, plan, planned, digest, result)
    return {**result, "msg": summary}


def _push_result(
    req: LicenseRequest,
    scope: Scope,
    planned: Change,
    previous_digest: str | None,
    digest: str,
    plan: list[Consumer],
    active: str | None,
    warnings: list[str],
    want_diff: bool,
) -> dict[str, Any]:
    """The module's result before any restart: what is stored, who uses it, what will restart."""
    result: dict[str, Any] = {
        "changed": digest != previous_digest or bool(plan),
        "license": {
            "kind": req.kind,
            "name": req.name,
            "namespace": req.namespace,
            "key": req.key,
            "action": planned.action,
            "previous_digest": previous_digest,
            **_license_facts(req, planned.after),
        },
        "annotation": checksum_annotation_key(req.kind, req.name),
        "consumers": [consumer(w).summary() for w in scope.consumers],
        "active_side": active,
        "restart_plan": [{**c.summary(), "method": req.method} for c in plan],
        "restarted": [],
        "warnings": warnings,
    }
    if want_diff:
        result["diff"] = {
            "before_header": f"{req.ref} {req.key}",
            "after_header": f"{req.ref} {req.key}",
            "before": _license_facts(req, planned.before) if planned.before is not None else {},
            "after": _license_facts(req, planned.after),
        }
    return result


def _summary(req: LicenseRequest, scope: Scope, plan: list[Consumer], what: str, check_mode: bool) -> str:
    if not scope.consumers:
        return f"no workload of {what} uses {req.ref} yet: nothing restarted"
    if req.restart == "none":
        return f"restart: none: {len(scope.consumers)} consumer(s) not restarted"
    return f"{len(plan)} of {len(scope.consumers)} consumer(s) " + (
        "to restart" if check_mode else "restarted"
    )


def restart_in_order(
    resources: Resources,
    req: LicenseRequest,
    scope: Scope,
    plan: list[Consumer],
    planned: Change,
    digest: str,
    result: dict[str, Any],
) -> None:
    """Restart each consumer in plan order, adding it to result["restarted"]. Before the first workload of
    a side, the other side must be Ready (so one side always serves); a consumer that does not become
    Ready stops the push (and rolls its side back with req.rollback): RolloutError."""
    annotation_key = checksum_annotation_key(req.kind, req.name)
    restarts: list[tuple[Consumer, str | None]] = []
    side: object = ()  # no side started yet
    for c in plan:
        if c.side != side and c.side is not None:
            _wait_for_other_sides(resources, req, scope, plan, c, planned.action, result)
        side = c.side
        workload = _get(resources, req.namespace, c)
        previous_annotation = template_annotation(workload, annotation_key)
        try:
            _restart(resources, req, workload, annotation_key, digest)
        except KubeError as exc:
            untouched = [x.label for x in plan[plan.index(c) + 1 :]]
            message = (
                f"{req.ref} {planned.action}, then {c.label} did not become Ready after its restart: {exc}; stopped, "
                f"not restarted: {', '.join(untouched) or 'nothing else'}"
            )
            result["failed_workload"] = c.summary()
            result["not_restarted"] = untouched
            if req.rollback:
                same_side = [r for r in restarts if r[0].side == c.side] + [(c, previous_annotation)]
                outcome = roll_back(resources, req, planned.before, same_side)
                result["rollback"] = outcome
                message += f"; {outcome}"
            raise RolloutError(message, result) from None
        restarts.append((c, previous_annotation))
        result["restarted"].append({**c.summary(), "method": req.method})


def _wait_for_other_sides(
    resources: Resources,
    req: LicenseRequest,
    scope: Scope,
    plan: list[Consumer],
    c: Consumer,
    action: str,
    result: dict[str, Any],
) -> None:
    others = other_sides([_get(resources, req.namespace, consumer(w)) for w in scope.workloads], c.side)
    try:
        wait_for_ready(resources, others, req.timeout)
    except KubeError as exc:
        result["not_restarted"] = [x.label for x in plan[plan.index(c) :]]
        raise RolloutError(
            f"{req.ref} {action}, then stopped before side {c.side.upper()}: restarting it would "
            f"leave no side up, the other side is not Ready ({exc}); not restarted: "
            + ", ".join(result["not_restarted"]),
            result,
        ) from None
