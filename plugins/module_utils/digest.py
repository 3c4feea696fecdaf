"""Content digests of ConfigMaps and Secrets, and the pod-template annotation that carries them.

One key and one function serve the app, license and keystore modules, so an object written by one
module and mounted by another yields the same annotation and a later run changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

ANNOTATION_PREFIX = "checksum.redundant.kube"
_MAX_NAME = 63


def content_digest(obj: dict[str, Any]) -> str:
    """SHA-256 over the content of a ConfigMap or Secret as the API server stores it.

    Covers `data` and `binaryData` (Secret `data` values are base64 strings, as stored); labels,
    annotations and metadata do not count, so relabelling does not restart anything.
    """
    content = {"data": obj.get("data") or {}, "binaryData": obj.get("binaryData") or {}}
    raw = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(raw).hexdigest()


def checksum_annotation_key(kind: str, name: str) -> str:
    """Pod-template annotation key for one mounted object, e.g. checksum.redundant.kube/configmap.app-cfg."""
    key = f"{kind.lower()}.{name}"
    if len(key) > _MAX_NAME:
        # Annotation names are limited to 63 characters: keep a readable prefix plus a stable hash.
        key = key[: _MAX_NAME - 9] + "-" + hashlib.sha256(key.encode()).hexdigest()[:8]
    return f"{ANNOTATION_PREFIX}/{key}"
