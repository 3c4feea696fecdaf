# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply a set of objects as one unit: validate all with server dry-run, then apply what changed, and undo
this run's writes if the server rejects any of them.

Check mode stops after the dry-run; the dry-run answers are what the objects would become, so the
reported changes and diff are the server's own, defaults and admission included.
"""

from __future__ import annotations

import copy
import re
import time
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.redundant.kube.plugins.module_utils.kube.client import KubeError
from ansible_collections.redundant.kube.plugins.module_utils.kube.diff import comparable
from ansible_collections.redundant.kube.plugins.module_utils.kube.objects import (
    is_dns_label,
    is_dns_subdomain,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import Resources, object_ref
from ansible_collections.redundant.kube.plugins.module_utils.kube.waiter import poll

CREATED, UPDATED, UNCHANGED, DELETED = "created", "updated", "unchanged", "deleted"
# Services take RFC 1035 labels (starting with a letter), namespaces RFC 1123 labels, the rest subdomains.
_SERVICE_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_NAME_RULES = {
    "Namespace": is_dns_label,
    "Service": lambda name: len(name) <= 63 and _SERVICE_NAME.match(name) is not None,
}
# Deleting a namespace finishes once its controller has emptied it: seconds for one this run just made.
NAMESPACE_GONE_SECONDS = 30


@dataclass
class Change:
    """One object of the set: what it is now, what it would be (dry-run), and what happened."""

    manifest: dict[str, Any]
    before: dict[str, Any] | None
    after: dict[str, Any] | None = None
    action: str = UNCHANGED

    @property
    def ref(self) -> str:
        return object_ref(self.manifest)

    def summary(self) -> dict[str, str]:
        meta = self.manifest["metadata"]
        entry = {"kind": self.manifest["kind"], "name": meta["name"], "action": self.action}
        if meta.get("namespace"):
            entry["namespace"] = meta["namespace"]
        return entry


@dataclass
class ApplyResult:
    changes: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(c.action != UNCHANGED for c in self.changes)


def _key(obj: dict[str, Any]) -> tuple[str, str, str, str | None]:
    meta = obj["metadata"]
    return obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace")


def action_for(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """created / updated / unchanged, comparing what a user wrote (no status, no server bookkeeping). Pure."""
    if before is None:
        return CREATED
    return UNCHANGED if comparable(before) == comparable(after) else UPDATED


def restorable(live: dict[str, Any]) -> dict[str, Any]:
    """An object as it was, fit to be applied again to undo a change. Pure."""
    obj = comparable(copy.deepcopy(live)) or {}
    # The masked copy must never be written back: take Secret data from the live object itself.
    if live.get("kind") == "Secret":
        obj["data"] = copy.deepcopy(live.get("data") or {})
    obj["metadata"].pop("uid", None)
    return obj


def plan(resources: Resources, manifests: list[dict[str, Any]]) -> ApplyResult:
    """Read every object and dry-run its apply. Raises KubeError on the first object the server rejects;
    nothing is written. Objects in a namespace that does not exist yet cannot be dry-run: they are
    planned as created with the manifest itself as their future state."""
    result = ApplyResult()
    missing_namespaces: set[str] = set()
    for manifest in manifests:
        api_version, kind, name, namespace = _key(manifest)
        before = (
            None if namespace in missing_namespaces else resources.get(api_version, kind, name, namespace)
        )
        change = Change(manifest, before)
        if kind == "Namespace" and before is None:
            missing_namespaces.add(name)
        if namespace in missing_namespaces:
            change.after = copy.deepcopy(manifest)
        else:
            change.after = resources.apply(manifest, dry_run=True)
        change.action = action_for(before, change.after)
        result.changes.append(change)
    return result


def rollback(resources: Resources, done: list[Change]) -> list[str]:
    """Undo applied changes, newest first: delete what this run created, re-apply what it updated.
    Returns the objects that could not be restored (empty when all were)."""
    failures = []
    for change in reversed(done):
        api_version, kind, name, namespace = _key(change.manifest)
        try:
            if change.action == CREATED:
                resources.delete(api_version, kind, name, namespace)
                if kind == "Namespace":
                    _wait_gone(resources, name)
            elif change.action == UPDATED and change.before is not None:
                resources.apply(restorable(change.before))
        except KubeError as exc:
            failures.append(f"{change.ref}: {exc}")
    return failures


def _wait_gone(resources: Resources, namespace: str) -> None:
    poll(
        lambda: (resources.get("v1", "Namespace", namespace) is None, None),
        time.monotonic() + NAMESPACE_GONE_SECONDS,
        lambda _: f"namespace {namespace} is still terminating after {NAMESPACE_GONE_SECONDS}s",
        first_interval=0.2,
    )


def invalid_names(manifests: list[dict[str, Any]]) -> list[str]:
    """Objects whose name or namespace the API server would refuse, one sentence each. Pure."""
    problems = []
    for manifest in manifests:
        meta = manifest["metadata"]
        if not _NAME_RULES.get(manifest["kind"], is_dns_subdomain)(meta["name"]):
            problems.append(f"{object_ref(manifest)}: the name is not valid for a {manifest['kind']}")
        namespace = meta.get("namespace")
        if namespace is not None and not is_dns_label(namespace):
            problems.append(f"{object_ref(manifest)}: namespace '{namespace}' is not a DNS label")
    return problems


def apply_set(resources: Resources, manifests: list[dict[str, Any]], check_mode: bool = False) -> ApplyResult:
    """Dry-run everything, then (unless check_mode) apply the objects that would change, in order.

    Names the API server would refuse fail first, before any request. A rejection during the dry-run writes
    nothing. A rejection while applying (a quota or webhook that only the real write hits, a concurrent
    change) rolls back this run's writes before raising; a namespace this run created is waited for until
    it is gone.
    """
    problems = invalid_names(manifests)
    if problems:
        raise KubeError("; ".join(problems))
    missing = [
        m
        for m in manifests
        if m["kind"] == "Namespace" and resources.get("v1", "Namespace", m["metadata"]["name"]) is None
    ]
    done: list[Change] = []
    if missing and not check_mode:
        # Namespaced objects can only be dry-run inside an existing namespace: create it first and
        # remove it again if the rest of the set is rejected.
        for ns in missing:
            done.append(Change(ns, None, resources.apply(ns), CREATED))
    try:
        result = plan(resources, manifests)
    except KubeError:
        rollback(resources, done)
        raise
    created_here = {_key(c.manifest) for c in done}
    for change in result.changes:
        if _key(change.manifest) in created_here:
            change.before, change.action = None, CREATED
    if check_mode:
        return result
    for change in result.changes:
        if change.action == UNCHANGED or _key(change.manifest) in created_here:
            continue
        try:
            change.after = resources.apply(change.manifest)
        except KubeError as exc:
            failures = rollback(resources, done)
            undone = (
                "rolled back what this run had written"
                if not failures
                else "could not roll back: " + "; ".join(failures)
            )
            raise KubeError(f"{exc} ({undone})") from None
        done.append(change)
    return result


def applied_by(obj: dict[str, Any], field_manager: str) -> bool:
    """Did `field_manager` write this object with server-side apply (not a controller creating it)? Pure."""
    entries = obj.get("metadata", {}).get("managedFields") or []
    return any(e.get("manager") == field_manager and e.get("operation") == "Apply" for e in entries)


def prune_candidates(
    live: list[dict[str, Any]], manifests: list[dict[str, Any]], field_manager: str
) -> list[dict[str, Any]]:
    """Objects of the set's owner (live, found by its labels) that the manifests no longer have: the ones to
    prune, as kubectl apply --prune and ApplySets do. Only what `field_manager` applied counts, so objects a
    controller made from the set (a StatefulSet's claims, a Deployment's ReplicaSets) are never touched. Pure."""
    wanted = {(m["kind"], m["metadata"]["name"], m["metadata"].get("namespace")) for m in manifests}
    return [
        obj
        for obj in live
        if (obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace")) not in wanted
        and not obj["metadata"].get("deletionTimestamp")
        and applied_by(obj, field_manager)
    ]


def delete_set(resources: Resources, objects: list[dict[str, Any]], check_mode: bool = False) -> list[Change]:
    """Delete the given live objects (e.g. found by labels), dependents in the background."""
    changes = []
    for obj in objects:
        api_version, kind, name, namespace = _key(obj)
        change = Change(obj, obj, None, DELETED)
        if check_mode:
            resources.delete(api_version, kind, name, namespace, dry_run=True)
        else:
            resources.delete(api_version, kind, name, namespace)
        changes.append(change)
    return changes
