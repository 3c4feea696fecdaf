# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Before/after views of objects for `--diff`, with server bookkeeping removed and Secret data masked."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

# Fields the server maintains; showing them would make every diff noisy.
_SERVER_METADATA = ("managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink")


def masked(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy of obj whose Secret values are replaced by a digest, so diffs and logs never carry them."""
    if obj is None:
        return None
    out = copy.deepcopy(obj)
    if out.get("kind") == "Secret":
        for field in ("data", "stringData"):
            for key, value in (out.get(field) or {}).items():
                digest = hashlib.sha256(str(value).encode()).hexdigest()[:12]
                out[field][key] = f"<masked sha256:{digest}>"
    return out


def comparable(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """The part of an object a user wrote: masked, without status and server-maintained metadata."""
    out = masked(obj)
    if out is None:
        return None
    out.pop("status", None)
    meta = out.get("metadata", {})
    for field in _SERVER_METADATA:
        meta.pop(field, None)
    annotations = meta.get("annotations")
    if annotations:
        annotations.pop("deployment.kubernetes.io/revision", None)
        if not annotations:
            meta.pop("annotations")
    return out


def object_diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """An Ansible diff entry (`before`/`after`) for one object."""
    return {"before": comparable(before) or {}, "after": comparable(after) or {}}
