# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading and writing Kubernetes objects as plain dicts: server-side apply, dry-run, delete, list.

Raw REST calls through the ApiClient rather than the dynamic client: the dynamic client discovers every
API group on start-up (dozens of requests), while the kinds this collection writes are known; other
kinds cost one discovery request for their group version, cached per server.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ansible_collections.redundant.kube.plugins.module_utils.kube.client import KubeError

try:
    import urllib3
    from kubernetes.client.exceptions import ApiException
except ImportError:  # client.require_kubernetes() reports it
    pass

FIELD_MANAGER = "redundant.kube"


@dataclass(frozen=True)
class ResourceType:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(
        self, name: str | None = None, namespace: str | None = None, subresource: str | None = None
    ) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced:
            if not namespace:
                raise KubeError(
                    f"{self.kind} {name or ''} needs a namespace: set metadata.namespace or namespace"
                )
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
        if subresource:
            base += f"/{subresource}"
        return base


def _known(
    api_version: str, kind: str, plural: str, namespaced: bool = True
) -> tuple[tuple[str, str], ResourceType]:
    return (api_version, kind), ResourceType(api_version, kind, plural, namespaced)


KNOWN_TYPES: dict[tuple[str, str], ResourceType] = dict(
    [
        _known("v1", "Namespace", "namespaces", namespaced=False),
        _known("v1", "Node", "nodes", namespaced=False),
        _known("v1", "PersistentVolume", "persistentvolumes", namespaced=False),
        _known("v1", "ConfigMap", "configmaps"),
        _known("v1", "Secret", "secrets"),
        _known("v1", "Service", "services"),
        _known("v1", "ServiceAccount", "serviceaccounts"),
        _known("v1", "Pod", "pods"),
        _known("v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
        _known("v1", "Event", "events"),
        _known("apps/v1", "Deployment", "deployments"),
        _known("apps/v1", "StatefulSet", "statefulsets"),
        _known("apps/v1", "DaemonSet", "daemonsets"),
        _known("apps/v1", "ReplicaSet", "replicasets"),
        _known("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
        _known("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies"),
        _known("networking.k8s.io/v1", "Ingress", "ingresses"),
        _known("storage.k8s.io/v1", "StorageClass", "storageclasses", namespaced=False),
        _known("scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", namespaced=False),
    ]
)

_DISCOVERED: dict[tuple[str, str], dict[str, ResourceType]] = {}


class NotFoundError(KubeError):
    """The object (or its API) does not exist on the server."""


class NamespaceTerminatingError(KubeError):
    """A write refused because its namespace is being deleted (403 with the cause NamespaceTerminating): no
    permission is missing, and what the namespace holds goes with it."""


class ApiStatusError(KubeError):
    """The server answered with an error status; `status` is the HTTP code (429 for a refused eviction)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def object_ref(obj: dict[str, Any]) -> str:
    """`Kind namespace/name` for messages."""
    meta = obj.get("metadata", {})
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind', '?')} {where}{meta.get('name', '?')}"


def _status_body(exc: Any) -> dict[str, Any]:
    """The Status object the server answered with, or {} when the body is not one."""
    try:
        body = json.loads(exc.body)
    except (TypeError, ValueError, AttributeError):
        return {}
    return body if isinstance(body, dict) else {}


def _status_message(exc: Any, body: dict[str, Any]) -> str:
    return body.get("message") or str(getattr(exc, "reason", exc))


def _status_causes(body: dict[str, Any]) -> list[str]:
    """The `type` of each cause in the Status (details.causes)."""
    details = body.get("details")
    causes = details.get("causes") if isinstance(details, dict) else None
    return [cause.get("type", "") for cause in causes or [] if isinstance(cause, dict)]


# Answers meaning "not now" that client-go and kubectl retry: API priority and fairness or a limiter
# (429), the server starting or stopping (503), a proxy in front of it timing out (504).
RETRYABLE_STATUS = (429, 503, 504)
# Writes the server may have done before the connection broke are retried only when repeating them is
# harmless: server-side apply, merge patch and delete are idempotent; a POST (create, eviction) is not.
_REPEATABLE = ("GET", "PATCH", "PUT", "DELETE", "HEAD")
MAX_RETRIES = 5  # when not waiting: about 15 s of backoff, enough for an API server restart to be noticed
_FIRST_DELAY, _MAX_DELAY = 0.5, 8.0


def transient(method: str, exc: Exception) -> bool:
    """Is this failure an API blip worth retrying (the request may be repeated), rather than an answer? Pure."""
    if isinstance(exc, ApiException):
        if exc.status == 0:  # the client's wrapping of TLS errors: only an interrupted handshake is a blip
            return method in _REPEATABLE and "EOF" in str(exc.reason) and "CERTIFICATE" not in str(exc.reason)
        # A POST is never repeated on an answer: a refused eviction (429) is the budget's verdict.
        return method in _REPEATABLE and exc.status in RETRYABLE_STATUS
    reason = getattr(exc, "reason", None) or exc  # MaxRetryError carries the last underlying error
    if isinstance(
        reason, urllib3.exceptions.ConnectTimeoutError
    ):  # refused or timed out connecting: never sent
        return True
    if "CERTIFICATE" in str(reason).upper():
        return False
    return method in _REPEATABLE and isinstance(
        reason, (urllib3.exceptions.ProtocolError, urllib3.exceptions.ReadTimeoutError, ConnectionError)
    )


def retry_after(exc: Exception) -> float | None:
    """The seconds a 429/503 answer asks the client to wait (its Retry-After header), if it says. Pure."""
    headers = getattr(exc, "headers", None) or {}
    try:
        return float(headers.get("Retry-After"))
    except (TypeError, ValueError):
        return None


class Resources:
    """Plain-dict access to the objects of one API server.

    Transient failures (connection refused or reset, the server restarting, 429/503/504) are retried with
    exponential backoff: for `retry_window` seconds after the first failure of a request when it is set (a
    waiting module sets its wait_timeout), else up to MAX_RETRIES times. `retries` counts them for the result.
    """

    def __init__(
        self,
        api_client: Any,
        field_manager: str = FIELD_MANAGER,
        retry_window: float = 0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api_client = api_client
        self.field_manager = field_manager
        self.host = api_client.configuration.host
        self.retry_window = retry_window
        self.retries = 0
        self._sleep, self._clock = sleep, clock

    # -- transport -------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str | None = None,
        what: str = "",
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        attempt, first_failure = 0, None
        while True:
            try:
                response = self.api_client.call_api(
                    path,
                    method,
                    query_params=query or [],
                    header_params=headers,
                    body=body,
                    auth_settings=["BearerToken"],
                    _preload_content=False,
                    _return_http_data_only=True,
                    _request_timeout=60,
                )
                return json.loads(response.data or b"{}")
            except (ApiException, urllib3.exceptions.HTTPError) as exc:
                first_failure = self._clock() if first_failure is None else first_failure
                delay = self._retry_delay(method, exc, attempt, first_failure)
                if delay is None:
                    error = (
                        self.explain(exc, what or f"{method} {path}")
                        if isinstance(exc, ApiException) and exc.status
                        else self.unreachable(exc)
                    )
                    if attempt:
                        error.args = (
                            f"{error} (after {attempt} retries over {self._clock() - first_failure:.0f}s)",
                        )
                    raise error from None
            attempt += 1
            self.retries += 1
            self._sleep(delay)

    def _retry_delay(self, method: str, exc: Exception, attempt: int, first_failure: float) -> float | None:
        """Seconds to wait before trying again, or None to give up."""
        if not transient(method, exc):
            return None
        delay = retry_after(exc) or min(_FIRST_DELAY * 2**attempt, _MAX_DELAY)
        if self.retry_window <= 0:
            return delay if attempt < MAX_RETRIES else None
        remaining = first_failure + self.retry_window - self._clock()
        return min(delay, remaining) if remaining > 0 else None

    def unreachable(self, exc: Exception) -> KubeError:
        reason = getattr(exc, "reason", None) or exc
        if isinstance(reason, str):  # the client's wrapping of TLS errors: "SSLError\n<detail>"
            reason = reason.replace("\n", ": ")
        if isinstance(reason, ssl.SSLError) or "CERTIFICATE" in str(reason).upper():
            return KubeError(
                f"TLS verification of the API server at {self.host} failed ({reason}): set ca_cert to the cluster CA"
            )
        text = str(reason).split(": ", 1)[-1] if ": " in str(reason) else str(reason)
        return KubeError(
            f"cannot reach the Kubernetes API server at {self.host} ({text}): check that the cluster is running "
            "and that the kubeconfig/host points at it"
        )

    def explain(self, exc: Any, what: str) -> KubeError:
        body = _status_body(exc)
        message = _status_message(exc, body)
        if exc.status == 401:
            return KubeError(
                f"the API server at {self.host} rejected the credentials (401 Unauthorized): the token or client "
                "certificate is wrong or expired; refresh the kubeconfig or api_key"
            )
        if exc.status == 403:
            if "NamespaceTerminating" in _status_causes(body):
                return NamespaceTerminatingError(f"{what}: {message}")
            return KubeError(f"{what} is forbidden: {message}; grant the user that permission (RBAC)")
        if exc.status == 404:
            return NotFoundError(f"{what}: {message}")
        return ApiStatusError(f"the API server rejected {what}: {message}", exc.status)

    # -- types -----------------------------------------------------------------------------------
    def resource_type(self, api_version: str, kind: str) -> ResourceType:
        known = KNOWN_TYPES.get((api_version, kind))
        if known:
            return known
        key = (self.host, api_version)
        if key not in _DISCOVERED:
            path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            try:
                listing = self.request("GET", path, what=f"discovery of {api_version}")
            except KubeError as exc:
                raise KubeError(f"apiVersion {api_version} is not served by {self.host}: {exc}") from None
            _DISCOVERED[key] = {
                r["kind"]: ResourceType(api_version, r["kind"], r["name"], r["namespaced"])
                for r in listing.get("resources", [])
                if "/" not in r["name"]
            }
        found = _DISCOVERED[key].get(kind)
        if not found:
            raise KubeError(
                f"kind {kind} is not served in {api_version} by {self.host}: check apiVersion and kind"
            )
        return found

    # -- verbs -----------------------------------------------------------------------------------
    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        rtype = self.resource_type(api_version, kind)
        try:
            return self.request("GET", rtype.path(name, namespace), what=f"reading {kind} {name}")
        except NotFoundError:
            return None

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        rtype = self.resource_type(api_version, kind)
        query = []
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        path = (
            rtype.path(namespace=namespace)
            if namespace or not rtype.namespaced
            else self._all_namespaces(rtype)
        )
        items = self.request("GET", path, query=query, what=f"listing {kind}").get("items", [])
        for item in items:  # list items come without apiVersion/kind
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items

    @staticmethod
    def _all_namespaces(rtype: ResourceType) -> str:
        base = "/api/v1" if rtype.api_version == "v1" else f"/apis/{rtype.api_version}"
        return f"{base}/{rtype.plural}"

    def apply(self, manifest: dict[str, Any], dry_run: bool = False, force: bool = True) -> dict[str, Any]:
        """Server-side apply with the collection's field manager; dry_run asks the server to only validate."""
        meta = manifest.get("metadata", {})
        rtype = self.resource_type(manifest["apiVersion"], manifest["kind"])
        query = [("fieldManager", self.field_manager)]
        if force:
            query.append(("force", "true"))
        if dry_run:
            query.append(("dryRun", "All"))
        return self.request(
            "PATCH",
            rtype.path(meta["name"], meta.get("namespace")),
            body=manifest,
            query=query,
            content_type="application/apply-patch+yaml",
            what=object_ref(manifest),
        )

    def merge_patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        patch: dict[str, Any],
        dry_run: bool = False,
    ) -> dict[str, Any]:
        rtype = self.resource_type(api_version, kind)
        query = [("dryRun", "All")] if dry_run else []
        return self.request(
            "PATCH",
            rtype.path(name, namespace),
            body=patch,
            query=query,
            content_type="application/merge-patch+json",
            what=f"{kind} {name}",
        )

    def create(self, manifest: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        meta = manifest.get("metadata", {})
        rtype = self.resource_type(manifest["apiVersion"], manifest["kind"])
        query = [("dryRun", "All")] if dry_run else []
        path = rtype.path(namespace=meta.get("namespace"))
        return self.request("POST", path, body=manifest, query=query, what=object_ref(manifest))

    def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        dry_run: bool = False,
        propagation: str = "Background",
    ) -> bool:
        """Delete one object; False when it was already gone."""
        rtype = self.resource_type(api_version, kind)
        query = [("propagationPolicy", propagation)]
        if dry_run:
            query.append(("dryRun", "All"))
        try:
            self.request("DELETE", rtype.path(name, namespace), query=query, what=f"deleting {kind} {name}")
        except NotFoundError:
            return False
        return True

    def pod_proxy_status(
        self, namespace: str, pod: str, port: int, path: str, scheme: str = "http", timeout: float = 5
    ) -> int | None:
        """HTTP status of a GET on a pod's port through the API server's pod proxy, or None when the API
        server could not reach the pod; for a controller that reaches the API server but not the pods."""
        target = f"{scheme}:{pod}:{port}" if scheme == "https" else f"{pod}:{port}"
        try:
            response = self.api_client.call_api(
                f"/api/v1/namespaces/{namespace}/pods/{target}/proxy/{path.lstrip('/')}",
                "GET",
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=timeout,
            )
        except ApiException as exc:
            if exc.status in (401, 403):
                raise self.explain(exc, f"the pod proxy of {namespace}/{pod}") from None
            # 503 and 502: the API server could not reach the pod; other codes are the pod's own answer.
            return None if exc.status in (502, 503) else exc.status
        except urllib3.exceptions.HTTPError as exc:
            raise self.unreachable(exc) from None
        return response.status

    def server_version(self) -> dict[str, Any]:
        return self.request("GET", "/version", what="the server version")
