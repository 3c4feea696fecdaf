# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vocabulary every capability shares about Kubernetes objects. Pure, apart from `exec_in_pod`.

- the labels and annotations the app module puts on what it renders, which app_info, license and drill
  read back (so an app is recognised from its objects alone, without its spec);
- the workload kinds, pod conditions and readiness, label selectors;
- content digests of ConfigMaps and Secrets and the pod-template annotation that carries them: one
  key and one function serve the app, license and keystore modules, so an object written by one module
  and mounted by another yields the same annotation and a later run changes nothing;
- running a command in a pod's container (the API server's exec subresource).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from ansible_collections.redundant.kube.plugins.module_utils.kube.client import KubeError

MANAGED_BY = "redundant.kube"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_SIDE = "redundant.kube/side"
LABEL_WORKLOAD_KIND = "redundant.kube/workload-kind"
LABEL_ROLE = "redundant.kube/role"
LABEL_INSTANCE_NUMBER = "redundant.kube/instance-number"
# On every Deployment/StatefulSet (not on pods, so they never restart pods): what app_info and the
# license module need to know about the app without its spec.
ANNOTATION_TOPOLOGY = "redundant.kube/topology"
ANNOTATION_TOPOLOGY_KEY = "redundant.kube/topology-key"
ANNOTATION_ACTIVE_PROBE = "redundant.kube/active-probe"
HOSTNAME_KEY = "kubernetes.io/hostname"

# What the app module renders; a license may also be read by workloads others made (a Helm chart's
# DaemonSet), so the license module looks at every kind with a pod template.
APP_WORKLOAD_KINDS = ("Deployment", "StatefulSet")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")

ANNOTATION_PREFIX = "checksum.redundant.kube"
_MAX_NAME = 63
# Object names as the API server checks them: RFC 1123 labels (namespaces) and subdomains (most kinds).
DNS_LABEL_PATTERN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_SUBDOMAIN_PATTERN = rf"{DNS_LABEL_PATTERN}(\.{DNS_LABEL_PATTERN})*"
MAX_SUBDOMAIN = 253


def is_dns_label(text: Any) -> bool:
    return (
        isinstance(text, str) and len(text) <= _MAX_NAME and re.fullmatch(DNS_LABEL_PATTERN, text) is not None
    )


def is_dns_subdomain(text: Any) -> bool:
    return (
        isinstance(text, str)
        and len(text) <= MAX_SUBDOMAIN
        and re.fullmatch(DNS_SUBDOMAIN_PATTERN, text) is not None
    )


def app_selector(name: str) -> str:
    """The label selector of every object of the app `name` that this collection manages."""
    return f"{LABEL_INSTANCE}={name},{LABEL_MANAGED_BY}={MANAGED_BY}"


def label_selector(selector: dict[str, Any]) -> str:
    """A workload's spec.selector as a label-selector string."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr["operator"], expr["key"], ",".join(expr.get("values") or [])
        parts.append(
            {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key}.get(
                op, f"!{key}"
            )
        )
    return ",".join(parts)


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    """The status condition of type `kind` of a pod or node, or {} when it has none."""
    return next((c for c in obj.get("status", {}).get("conditions") or [] if c.get("type") == kind), {})


def is_ready(obj: dict[str, Any]) -> bool:
    return condition(obj, "Ready").get("status") == "True"


def live_pods(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pods that count: not being deleted, not finished."""
    return [
        p
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and p.get("status", {}).get("phase") not in ("Succeeded", "Failed")
    ]


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


def exec_in_pod(
    api_client: Any,
    namespace: str,
    pod: str,
    command: list[str],
    timeout: float,
    container: str | None = None,
) -> int | None:
    """Run command in a pod's container through the exec subresource; its exit status (None if unknown).
    A refusal by the API server (401, 403) is a KubeError naming what to grant; other failures are raised
    as the client raised them."""
    from kubernetes.client import CoreV1Api
    from kubernetes.client.exceptions import ApiException
    from kubernetes.stream import stream

    if getattr(api_client, "impersonation", None):
        # kubernetes.stream sends only the Authorization header on the websocket: the command would run as
        # the connection's own user, not as the one impersonated.
        raise KubeError(
            f"exec in pod {namespace}/{pod} cannot be impersonated (the kubernetes client's websocket drops "
            "the Impersonate headers): unset impersonate_user and impersonate_groups, or connect with that "
            "user's own credentials"
        )
    options: dict[str, Any] = {"container": container} if container else {}
    try:
        session = stream(
            CoreV1Api(api_client).connect_get_namespaced_pod_exec,
            pod,
            namespace,
            command=command,
            stdout=True,
            stderr=True,
            stdin=False,
            tty=False,
            _preload_content=False,
            **options,
        )
    except ApiException as exc:
        refusal = websocket_refusal(str(exc.reason))
        if refusal:
            raise KubeError(
                f"exec in pod {namespace}/{pod} is {refusal}; grant the user get and create on pods/exec (RBAC)"
            ) from None
        raise
    session.run_forever(timeout=timeout)
    return session.returncode


def websocket_refusal(reason: str) -> str | None:
    """'forbidden: <the API server's message>' (or 'unauthorized: ...') when a websocket handshake was refused
    with 401 or 403, else None. The client puts the status, the headers and the API's Status body into one
    text: `Handshake status 403 Forbidden -+-+- {headers} -+-+- {"kind":"Status",...}`."""
    status = re.search(r"Handshake status (401|403)\b", reason)
    if not status:
        return None
    body = reason.rsplit("-+-+-", 1)[-1]
    try:
        message = json.loads(body[body.index("{") : body.rindex("}") + 1])["message"]
    except (ValueError, KeyError, TypeError):
        message = reason.strip().splitlines()[-1]
    return f"{'forbidden' if status[1] == '403' else 'unauthorized'}: {message}"
