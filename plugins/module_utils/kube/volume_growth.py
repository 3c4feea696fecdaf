# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Grow PersistentVolumeClaims offline: scale their workloads to 0, grow, wait for the storage, scale back.

The procedure of the IRIS HA article for storage (e.g. Longhorn) that cannot expand an attached volume.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ansible_collections.redundant.kube.plugins.module_utils.kube.client import KubeError
from ansible_collections.redundant.kube.plugins.module_utils.kube.objects import label_selector
from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import Resources
from ansible_collections.redundant.kube.plugins.module_utils.kube.waiter import poll_or_last

API = {"Deployment": "apps/v1", "StatefulSet": "apps/v1"}


def resize_done(claim: dict[str, Any], wanted: Decimal, parse: Callable[[str], Decimal]) -> bool:
    """The storage reports the new capacity, or only the file system resize on next mount is left. Pure."""
    capacity = claim.get("status", {}).get("capacity", {}).get("storage")
    if capacity and parse(capacity) >= wanted:
        return True
    conditions = claim.get("status", {}).get("conditions") or []
    return any(c.get("type") == "FileSystemResizePending" and c.get("status") == "True" for c in conditions)


def check_expandable(resources: Resources, claim: dict[str, Any]) -> None:
    """KubeError unless the claim's StorageClass allows expansion (the API would refuse the resize)."""
    name = claim["metadata"]["name"]
    cls = claim.get("spec", {}).get("storageClassName")
    storage_class = resources.get("storage.k8s.io/v1", "StorageClass", cls) if cls else None
    if not storage_class or not storage_class.get("allowVolumeExpansion"):
        raise KubeError(
            f"volumes: claim {name} cannot grow: its storage class {cls or '(none)'} does not set "
            "allowVolumeExpansion: true; use a class that does, or migrate the data to a bigger claim"
        )


def _wait(until: Callable[[], bool], timeout: float, sleep: Callable[[float], None]) -> bool:
    """True once until() holds, False when it still does not after timeout seconds."""

    def check() -> tuple[bool, bool]:
        held = until()
        return held, held

    return poll_or_last(check, time.monotonic() + timeout, sleep=sleep)


def grow_offline(
    resources: Resources,
    namespace: str,
    claims: list[tuple[str, str, str]],
    users: list[tuple[str, str]],
    restore: list[dict[str, Any]],
    timeout: float,
    parse: Callable[[str], Decimal],
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Grow `claims` ((name, old, new)) with the workloads `users` ((kind, name)) stopped.

    `restore` are the workload manifests applied again afterwards (they bring the replica count back).
    Returns one message per step taken, for the module's result.
    """
    messages = []
    selectors = []
    for kind, name in users:
        live = resources.get(API[kind], kind, name, namespace)
        if live is None:
            continue
        selectors.append(label_selector(live["spec"]["selector"]))
        resources.merge_patch(API[kind], kind, name, namespace, {"spec": {"replicas": 0}})
    if users:
        messages.append("scaled " + ", ".join(f"{k} {n}" for k, n in users) + " to 0")
    stopped = _wait(
        lambda: not any(resources.list("v1", "Pod", namespace, label_selector=s) for s in selectors),
        timeout,
        sleep,
    )
    if not stopped:
        for manifest in restore:
            resources.apply(manifest)
        raise KubeError(
            f"volume growth: the pods of {', '.join(n for _unused, n in users)} did not stop within {timeout:g}s; "
            "scaled back without growing; stop them and run again"
        )
    for name, old, new in claims:
        resources.merge_patch(
            "v1",
            "PersistentVolumeClaim",
            name,
            namespace,
            {"spec": {"resources": {"requests": {"storage": new}}}},
        )
        grown = _wait(
            lambda n=name, s=new: resize_done(
                resources.get("v1", "PersistentVolumeClaim", n, namespace) or {}, parse(s), parse
            ),
            timeout,
            sleep,
        )
        if grown:
            messages.append(f"grew claim {name} from {old} to {new}")
        else:
            messages.append(
                f"requested claim {name} to grow from {old} to {new}; the storage did not report the new capacity "
                f"within {timeout:g}s (is a volume resizer running?)"
            )
    for manifest in restore:
        resources.apply(manifest)
    if users:
        messages.append("scaled " + ", ".join(f"{k} {n}" for k, n in users) + " back")
    return messages
