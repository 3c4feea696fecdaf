# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter ``redundant.kube.k8s_real_changes``: did a kubernetes.core.k8s apply change an object, or only
the API server's bookkeeping?

kubernetes.core reports an object changed when anything in it differs before and after the apply. The
first server-side re-apply of an object that was created before (a Namespace the namespace controller
labelled, for example) adds a ``before-first-apply`` entry to ``metadata.managedFields`` and bumps
``resourceVersion`` - bookkeeping, not a change of the object, and it would make a second run report
changed. Status written by controllers between the read and the apply is not a change of ours either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BOOKKEEPING = frozenset({"managedFields", "resourceVersion", "generation"})


def _meaningful(side: Mapping[str, Any] | None) -> dict[str, Any]:
    side = dict(side or {})
    side.pop("status", None)
    metadata = {k: v for k, v in (side.pop("metadata", None) or {}).items() if k not in BOOKKEEPING}
    return {**side, **({"metadata": metadata} if metadata else {})}


def k8s_real_changes(registered: Mapping[str, Any]) -> list[str]:
    """``kind/name`` of every object whose diff goes beyond bookkeeping and status, from a registered
    kubernetes.core.k8s result (one object or a multi-document file), run with ``diff: true``."""
    result = registered.get("result") or {}
    items = result.get("results") if isinstance(result, Mapping) and "results" in result else [registered]
    changed = []
    for item in items:
        if not item.get("changed"):
            continue
        diff = item.get("diff") or {}
        if _meaningful(diff.get("before")) != _meaningful(diff.get("after")) or not diff:
            obj = item.get("result") or {}
            changed.append(f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}")
    return changed


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"k8s_real_changes": k8s_real_changes}
