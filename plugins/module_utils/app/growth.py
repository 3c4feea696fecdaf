# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planning volume growth (the IRIS HA article's procedure: scale to 0, grow the claim, wait, scale back). Pure.

Storage such as Longhorn cannot grow a volume while a pod has it attached, so the module never just
applies a bigger size: it pins claims (and StatefulSet claim templates, which are immutable) to their
live size in the applied manifests and grows them afterwards with the workloads that use them stopped.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ansible_collections.redundant.kube.plugins.module_utils.app.spec import SpecError, parse_quantity


@dataclass(frozen=True)
class Growth:
    claim: str
    namespace: str
    old: str
    new: str
    users: tuple[tuple[str, str], ...]  # (kind, name) of the Deployments/StatefulSets that mount it


def _size(claim_spec: dict[str, Any]) -> str:
    return claim_spec["resources"]["requests"]["storage"]


def _claim_users(manifests: list[dict[str, Any]], claim: str) -> tuple[tuple[str, str], ...]:
    users = []
    for obj in manifests:
        if obj["kind"] not in ("Deployment", "StatefulSet"):
            continue
        for volume in obj["spec"]["template"]["spec"].get("volumes") or []:
            if (volume.get("persistentVolumeClaim") or {}).get("claimName") == claim:
                users.append((obj["kind"], obj["metadata"]["name"]))
    return tuple(users)


def _compare(name: str, old: str, new: str) -> int:
    """-1 shrink, 0 same, 1 grow; a shrink is refused (Kubernetes cannot shrink a claim)."""
    old_q, new_q = parse_quantity(old), parse_quantity(new)
    if new_q < old_q:
        raise SpecError(
            f"volumes: claim {name} is {old}, the spec asks {new}; claims cannot shrink: keep size at {old} or more"
        )
    return 1 if new_q > old_q else 0


def plan_growth(
    manifests: list[dict[str, Any]],
    live_claims: dict[str, dict[str, Any]],
    live_workloads: dict[str, dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[Growth]]:
    """(manifests with every growing size pinned to its live value, the growths to perform afterwards).

    live_claims: claim name -> live PVC; live_workloads: StatefulSet name -> live StatefulSet."""
    pinned = copy.deepcopy(manifests)
    growths: list[Growth] = []
    for obj in pinned:
        meta = obj["metadata"]
        if obj["kind"] == "PersistentVolumeClaim" and meta["name"] in live_claims:
            live_size = _size(live_claims[meta["name"]]["spec"])
            new = _size(obj["spec"])
            if _compare(meta["name"], live_size, new) > 0:
                obj["spec"]["resources"]["requests"]["storage"] = live_size
                growths.append(
                    Growth(
                        meta["name"], meta["namespace"], live_size, new, _claim_users(manifests, meta["name"])
                    )
                )
        elif obj["kind"] == "StatefulSet" and meta["name"] in live_workloads:
            live_templates = {
                t["metadata"]["name"]: t
                for t in live_workloads[meta["name"]]["spec"].get("volumeClaimTemplates") or []
            }
            for template in obj["spec"].get("volumeClaimTemplates") or []:
                live = live_templates.get(template["metadata"]["name"])
                if live is None:
                    continue
                new = _size(template["spec"])
                # Claim templates are immutable: keep the live one, grow each member's claim instead.
                template["spec"]["resources"]["requests"]["storage"] = _size(live["spec"])
                prefix = f"{template['metadata']['name']}-{meta['name']}-"
                for name, claim in sorted(live_claims.items()):
                    if name.startswith(prefix) and name[len(prefix) :].isdigit():
                        old = _size(claim["spec"])
                        if _compare(name, old, new) > 0:
                            growths.append(
                                Growth(name, meta["namespace"], old, new, (("StatefulSet", meta["name"]),))
                            )
    return pinned, growths
