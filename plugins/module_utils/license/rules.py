# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""License content, validation and rollout order for redundant.kube.license. Pure: no I/O.

The license lives under one key of a ConfigMap or Secret. Its consumers are restarted through the same
pod-template checksum annotation the app module writes (digest.py), so a license push followed by an
unchanged app run changes nothing. Which workloads restart, in which order, and whether they still run
an older license is decided here from the objects the API server returns.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from ansible_collections.redundant.kube.plugins.module_utils.kube.objects import (
    DNS_SUBDOMAIN_PATTERN,
    LABEL_SIDE,
    LABEL_WORKLOAD_KIND,
    is_ready,
    live_pods,
)

# A ConfigMap or Secret holds at most 1 MiB in total (etcd's object limit).
MAX_OBJECT_BYTES = 1024 * 1024
_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
ORDERS = ("passive_first", "a_first", "b_first")
METHODS = ("template", "delete_pods")
# Within a side the server goes first: its companions connect to it when they start.
_ROLE_RANK = {"server": 0, "companion": 1, "per-side": 2}


class LicenseError(Exception):
    """Bad input: str() is one line naming the option and the fix."""


# -- content ---------------------------------------------------------------------------------------
def license_payload(
    content: str | None, b64_content: str | None, src_bytes: bytes | None
) -> tuple[bytes, bool]:
    """(bytes, binary) from exactly one of the three sources; binary content goes to binaryData."""
    if b64_content is not None:
        try:
            payload = base64.b64decode("".join(b64_content.split()), validate=True)
        except (binascii.Error, ValueError):
            raise LicenseError("b64_content is not valid base64: encode the file with `base64 -w0`") from None
        option, binary = "b64_content", True
    elif content is not None:
        payload, option, binary = content.encode("utf-8"), "content", False
    else:
        payload, option = src_bytes or b"", "src"
        try:
            payload.decode("utf-8")
            binary = False
        except UnicodeDecodeError:
            binary = True
    if not payload.strip():
        raise LicenseError(f"{option} is empty: a license push needs the license file's content")
    return payload, binary


def check_key(kind: str, key: str) -> None:
    if not _KEY.match(key) or len(key) > 253:
        raise LicenseError(
            f"key '{key}' is not a valid {kind} key: use letters, digits, '-', '_' or '.' (at most 253), "
            "e.g. LicenceRun.code"
        )


# Label selectors as the API server parses them (k8s.io/apimachinery labels.Parse).
_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_LABEL_VALUE = re.compile(rf"^({_LABEL_NAME})?$")
_LABEL_KEY = re.compile(rf"^({DNS_SUBDOMAIN_PATTERN}/)?(?P<name>{_LABEL_NAME})$")
_KEY_TOKEN = r"\s*(?P<key>[^\s!=<>(),]+)\s*"
_REQUIREMENTS = (
    re.compile(rf"^\s*!?{_KEY_TOKEN}$"),  # key exists / !key
    re.compile(rf"^{_KEY_TOKEN}(==|=|!=)\s*(?P<value>[^\s!=<>(),]*)\s*$"),
    re.compile(rf"^{_KEY_TOKEN}\s(in|notin)\s*\((?P<values>[^()]*)\)\s*$"),
    re.compile(rf"^{_KEY_TOKEN}[<>]\s*(?P<number>[0-9]+)\s*$"),
)


def _requirements(option: str, selector: str) -> list[str]:
    """The comma-separated requirements of a selector (commas inside `in (...)` do not separate)."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(selector):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth not in (0, 1):
            raise LicenseError(f"{option} '{selector}': unbalanced parentheses at character {i + 1}")
        if char == "," and depth == 0:
            parts.append(selector[start:i])
            start = i + 1
    if depth:
        raise LicenseError(f"{option} '{selector}': '(' is not closed: write e.g. app in (d2000,iris)")
    return [*parts, selector[start:]]


def check_selector(option: str, selector: str) -> None:
    """A label selector the API server would accept, checked before anything is stored. LicenseError if not."""
    if not selector.strip():
        return  # the empty selector selects everything, as the API server reads it
    for requirement in _requirements(option, selector):
        match = next((m for pattern in _REQUIREMENTS if (m := pattern.match(requirement))), None)
        if not match:
            raise LicenseError(
                f"{option} '{selector}': '{requirement.strip()}' is not a requirement: write key=value, key!=value, "
                "key in (a,b), key notin (a,b), key or !key, joined by commas"
            )
        key = _LABEL_KEY.match(match["key"])
        if not key or len(key["name"]) > 63:
            raise LicenseError(f"{option} '{selector}': '{match['key']}' is not a label key")
        values = [v.strip() for v in match["values"].split(",")] if "values" in match.groupdict() else []
        if "values" in match.groupdict() and values == [""]:
            raise LicenseError(f"{option} '{selector}': '{requirement.strip()}' needs at least one value")
        if "value" in match.groupdict():
            values = [match["value"]]
        for value in values:
            if len(value) > 63 or not _LABEL_VALUE.match(value):
                raise LicenseError(f"{option} '{selector}': '{value}' is not a label value")


@dataclass(frozen=True)
class Validation:
    """The optional `validate` checks; None means not checked."""

    regex: str | None = None
    max_size: int | None = None
    expires: str | None = None
    expiry_regex: str | None = None
    expiry_format: str = "%Y-%m-%d"
    min_days_left: int = 0


def _parse_date(text: str, fmt: str, option: str) -> datetime.date:
    try:
        return datetime.datetime.strptime(text.strip(), fmt).date()
    except ValueError:
        raise LicenseError(
            f"{option}: '{text.strip()}' is not a date in format {fmt}: fix it or set validate.expiry_format"
        ) from None


def _compile(pattern: str, option: str) -> re.Pattern[bytes]:
    try:
        return re.compile(pattern.encode("utf-8"), re.MULTILINE)
    except re.error as exc:
        raise LicenseError(f"{option} is not a valid regular expression ({exc}): fix the pattern") from None


def expiry_date(payload: bytes, rules: Validation) -> datetime.date | None:
    """The license's expiry date: given in validate.expires, or read from the content with expiry_regex."""
    if rules.expires:
        return _parse_date(rules.expires, rules.expiry_format, "validate.expires")
    if not rules.expiry_regex:
        return None
    pattern = _compile(rules.expiry_regex, "validate.expiry_regex")
    if pattern.groups != 1:
        raise LicenseError(
            "validate.expiry_regex needs exactly one capture group around the date, e.g. 'valid until (\\S+)'"
        )
    found = pattern.search(payload)
    if not found:
        raise LicenseError(
            f"validate.expiry_regex '{rules.expiry_regex}' finds no expiry date in the license: "
            "check the file or the pattern"
        )
    return _parse_date(
        found.group(1).decode("utf-8", "replace"), rules.expiry_format, "validate.expiry_regex"
    )


def validate_payload(payload: bytes, rules: Validation, today: datetime.date, stored_bytes: int) -> None:
    """Raise LicenseError on the first check the license fails. `stored_bytes` is its size once encoded."""
    if stored_bytes > MAX_OBJECT_BYTES:
        raise LicenseError(
            f"the license takes {stored_bytes} bytes stored, more than a ConfigMap/Secret can hold "
            f"({MAX_OBJECT_BYTES}): check that src/content is the license file"
        )
    if rules.max_size is not None and len(payload) > rules.max_size:
        raise LicenseError(
            f"validate.max_size: the license has {len(payload)} bytes, more than {rules.max_size}: "
            "check that src/content is the license file"
        )
    if rules.regex and not _compile(rules.regex, "validate.regex").search(payload):
        raise LicenseError(
            f"validate.regex: the license does not match '{rules.regex}': check the file or the pattern"
        )
    expires = expiry_date(payload, rules)
    if expires is not None:
        left = (expires - today).days
        if left < rules.min_days_left or left < 0:
            state = "expired" if left < 0 else "expires"
            raise LicenseError(
                f"validate: the license {state} on {expires.isoformat()} ({left} days from today, at least "
                f"{rules.min_days_left} required by validate.min_days_left): push a current license"
            )


# -- the object --------------------------------------------------------------------------------------
def stored_entry(kind: str, payload: bytes, binary: bool) -> tuple[str, str]:
    """(field, value) the license is stored under: Secret data and ConfigMap binaryData are base64."""
    if kind == "Secret":
        return "data", base64.b64encode(payload).decode("ascii")
    if binary:
        return "binaryData", base64.b64encode(payload).decode("ascii")
    return "data", payload.decode("utf-8")


def current_entry(obj: dict[str, Any] | None, key: str) -> tuple[str, str] | None:
    """(field, value) under which a live object holds the key, or None."""
    for field in ("data", "binaryData"):
        value = ((obj or {}).get(field) or {}).get(key)
        if value is not None:
            return field, value
    return None


def entry_bytes(kind: str, entry: tuple[str, str] | None) -> bytes | None:
    if entry is None:
        return None
    field, value = entry
    if kind == "Secret" or field == "binaryData":
        return base64.b64decode(value)
    return value.encode("utf-8")


def license_manifest(
    kind: str, name: str, namespace: str, key: str, entry: tuple[str, str] | None
) -> dict[str, Any]:
    """What server-side apply writes: only our key. Keys and labels of others (e.g. Helm) stay as they are,
    and a key this manager wrote before under another field is removed by the apply."""
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
    }
    if entry is not None:
        obj[entry[0]] = {key: entry[1]}
    return obj


def sha256(payload: bytes | None) -> str | None:
    return hashlib.sha256(payload).hexdigest() if payload is not None else None


# -- consumers ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Consumer:
    """One workload that uses the license."""

    kind: str
    name: str
    side: str | None
    role: str | None

    @property
    def label(self) -> str:
        side = f" (side {self.side.upper()})" if self.side else ""
        return f"{self.kind} {self.name}{side}"

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "side": self.side}


def consumer(workload: dict[str, Any]) -> Consumer:
    labels = workload["metadata"].get("labels") or {}
    return Consumer(
        workload["kind"],
        workload["metadata"]["name"],
        labels.get(LABEL_SIDE),
        labels.get(LABEL_WORKLOAD_KIND),
    )


def pod_template(workload: dict[str, Any]) -> dict[str, Any]:
    return workload.get("spec", {}).get("template") or {}


def references(workload: dict[str, Any], kind: str, name: str, annotation_key: str) -> bool:
    """Does the workload's pod template use the object (volume, projected volume, env, envFrom), or carry
    its checksum annotation?"""
    template = pod_template(workload)
    if annotation_key in ((template.get("metadata") or {}).get("annotations") or {}):
        return True
    spec = template.get("spec") or {}
    source, ref = ("secret", "secretName") if kind == "Secret" else ("configMap", "name")
    for volume in spec.get("volumes") or []:
        if (volume.get(source) or {}).get(ref) == name:
            return True
        for projected in (volume.get("projected") or {}).get("sources") or []:
            if (projected.get(source) or {}).get("name") == name:
                return True
    key_ref, from_ref = (
        ("secretKeyRef", "secretRef") if kind == "Secret" else ("configMapKeyRef", "configMapRef")
    )
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for env in container.get("env") or []:
            if ((env.get("valueFrom") or {}).get(key_ref) or {}).get("name") == name:
                return True
        for env_from in container.get("envFrom") or []:
            if (env_from.get(from_ref) or {}).get("name") == name:
                return True
    return False


def template_annotation(workload: dict[str, Any], annotation_key: str) -> str | None:
    return ((pod_template(workload).get("metadata") or {}).get("annotations") or {}).get(annotation_key)


def checksum_patch(annotation_key: str, digest: str | None) -> dict[str, Any]:
    """Merge patch setting (or, with None, removing) the checksum annotation of a pod template."""
    return {"spec": {"template": {"metadata": {"annotations": {annotation_key: digest}}}}}


def template_restart_problem(workload: dict[str, Any]) -> str | None:
    """Why changing the pod template would not restart the pods one at a time, or None when it would."""
    spec, ref = workload.get("spec", {}), consumer(workload).label
    strategy = spec.get("updateStrategy") or {}
    if workload["kind"] in ("StatefulSet", "DaemonSet") and strategy.get("type") == "OnDelete":
        return f"{ref} uses updateStrategy OnDelete: a template change restarts nothing; set restart_method: delete_pods"
    if workload["kind"] == "StatefulSet":
        rolling = strategy.get("rollingUpdate") or {}
        if rolling.get("partition"):
            return (
                f"{ref} has rollingUpdate.partition {rolling['partition']}: a template change restarts only some "
                "members; set restart_method: delete_pods"
            )
        if str(rolling.get("maxUnavailable", 1)) != "1":
            return (
                f"{ref} has rollingUpdate.maxUnavailable {rolling['maxUnavailable']}: members would restart "
                "several at a time; set restart_method: delete_pods"
            )
    if workload["kind"] == "Deployment" and spec.get("paused"):
        return f"{ref} is paused: a template change restarts nothing; resume it or set restart_method: delete_pods"
    return None


def _written_at(obj: dict[str, Any], manager: str) -> str | None:
    """When `manager` last changed the object (its managedFields entry), RFC 3339 with seconds."""
    times = [
        entry.get("time")
        for entry in obj.get("metadata", {}).get("managedFields") or []
        if entry.get("manager") == manager and entry.get("time")
    ]
    return max(times) if times else None


def _timestamp(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def stale_pods(pods: list[dict[str, Any]], license_obj: dict[str, Any], manager: str) -> list[dict[str, Any]]:
    """Live pods created before `manager` last wrote the license: they still run the previous one.
    Timestamps have one-second resolution, so a pod created in the same second counts as current."""
    written = _written_at(license_obj, manager)
    if written is None:
        return []
    cut = _timestamp(written)
    return [p for p in live_pods(pods) if _timestamp(p["metadata"]["creationTimestamp"]) < cut]


def needs_restart(
    workload: dict[str, Any],
    method: str,
    annotation_key: str,
    digest: str,
    content_changed: bool,
    stale: list[dict[str, Any]],
) -> bool:
    """A consumer restarts when the license changed in this run, or when it still runs an older one (an
    earlier rollout stopped on a failure, or ran with restart: none)."""
    if method == "template":
        # Pods carrying this digest started with this content; a workload without the annotation
        # (not made by the app module) is only restarted by a change.
        current = template_annotation(workload, annotation_key)
        return current != digest and (content_changed or current is not None)
    return content_changed or bool(stale)


# -- order -------------------------------------------------------------------------------------------
def active_sides(active_pods: list[dict[str, Any]]) -> set[str]:
    """Sides whose Ready server pod the application marks active."""
    return {
        side
        for p in active_pods
        if is_ready(p) and (side := (p["metadata"].get("labels") or {}).get(LABEL_SIDE))
    }


def side_order(sides: set[str], order: str, active: str | None) -> list[str]:
    """Sides in restart order: the passive side(s) before the active one, or A/B first as asked."""
    if order == "a_first":
        return sorted(sides)
    if order == "b_first":
        return sorted(sides, reverse=True)
    return sorted(sides, key=lambda s: (s == active, s))


def rollout_order(consumers: list[Consumer], order: str, active: str | None) -> list[Consumer]:
    """One workload at a time: side by side (workloads without a side first), server before companions,
    then by name."""
    rank = {
        side: i for i, side in enumerate(side_order({c.side for c in consumers if c.side}, order, active))
    }
    return sorted(
        consumers,
        key=lambda c: (-1 if c.side is None else rank[c.side], _ROLE_RANK.get(c.role or "", 3), c.name),
    )


def other_sides(workloads: list[dict[str, Any]], side: str) -> list[dict[str, Any]]:
    """Workloads of the other sides: they must be Ready before `side` restarts, or no side would be up."""
    return [w for w in workloads if (other := consumer(w).side) and other != side]


def _ordinal(pod: dict[str, Any]) -> tuple[int, str]:
    name = pod["metadata"]["name"]
    tail = name.rsplit("-", 1)[-1]
    return (int(tail) if tail.isdigit() else -1, name)


def pod_restart_order(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Live pods, highest StatefulSet ordinal first (as the StatefulSet controller rolls), else by name."""
    return sorted(live_pods(pods), key=_ordinal, reverse=True)


def replacement_ready(pods: list[dict[str, Any]], deleted_uid: str, wanted: int) -> bool:
    """The deleted pod is gone and the workload again has `wanted` Ready pods."""
    if any(p["metadata"].get("uid") == deleted_uid for p in pods):
        return False
    return sum(1 for p in live_pods(pods) if is_ready(p)) >= wanted


def failure_conditions(workload: dict[str, Any]) -> list[str]:
    """What the controller reports about a failed rollout (e.g. ReplicaFailure: pods forbidden)."""
    found = []
    for cond in workload.get("status", {}).get("conditions") or []:
        bad = cond.get("type") == "ReplicaFailure" and cond.get("status") == "True"
        bad = bad or (cond.get("type") in ("Available", "Progressing") and cond.get("status") == "False")
        if bad:
            found.append(f"{cond['type']}: {cond.get('message') or cond.get('reason', '')}".strip())
    return found
