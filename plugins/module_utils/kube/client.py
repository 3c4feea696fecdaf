# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One Kubernetes API client per set of connection settings.

Settings come from module options, else from the `K8S_AUTH_*` environment variables that AWX's
Kubernetes credential injects (the same names kubernetes.core reads), else from `KUBECONFIG` /
`~/.kube/config`, else from the in-cluster service account. Every failure to connect is turned into a
`KubeError` whose message is one line saying what is wrong and how to fix it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

try:
    import kubernetes
    from kubernetes.config.config_exception import ConfigException

    HAS_KUBERNETES = True
except ImportError:  # reported by require_kubernetes(), so modules can fail with a clear message
    HAS_KUBERNETES = False

LOCAL_CLUSTER_HINT = "run `make demo` to start the local cluster, or set kubeconfig"


class KubeError(Exception):
    """An error meant for the user: str() is one line naming the problem and the fix."""


@dataclass(frozen=True)
class ConnectionSettings:
    kubeconfig: str | None = None
    context: str | None = None
    host: str | None = None
    api_key: str | None = None
    username: str | None = None
    password: str | None = None
    validate_certs: bool | None = None
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    proxy: str | None = None


# Option name -> environment variable, as kubernetes.core and AWX's Kubernetes credential use them.
ENV_VARIABLES: dict[str, str] = {
    "kubeconfig": "K8S_AUTH_KUBECONFIG",
    "context": "K8S_AUTH_CONTEXT",
    "host": "K8S_AUTH_HOST",
    "api_key": "K8S_AUTH_API_KEY",
    "username": "K8S_AUTH_USERNAME",
    "password": "K8S_AUTH_PASSWORD",
    "validate_certs": "K8S_AUTH_VERIFY_SSL",
    "ca_cert": "K8S_AUTH_SSL_CA_CERT",
    "client_cert": "K8S_AUTH_CERT_FILE",
    "client_key": "K8S_AUTH_KEY_FILE",
    "proxy": "K8S_AUTH_PROXY",
}

_SECRET_OPTIONS = {"api_key", "password"}


def connection_argument_spec() -> dict[str, dict[str, Any]]:
    """The connection options shared by every Kubernetes module of the collection."""
    spec: dict[str, dict[str, Any]] = {}
    for name in ENV_VARIABLES:
        option: dict[str, Any] = {"type": "bool" if name == "validate_certs" else "str"}
        if name in ("kubeconfig", "ca_cert", "client_cert", "client_key"):
            option["type"] = "path"
        if name in _SECRET_OPTIONS:
            option["no_log"] = True
        spec[name] = option
    spec["validate_certs"]["aliases"] = ["verify_ssl"]
    return spec


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise KubeError(f"{name}={value!r} is not a boolean: use true or false")


def settings_from_params(
    params: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> ConnectionSettings:
    """Module options win; unset options fall back to their K8S_AUTH_* environment variable."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for field in fields(ConnectionSettings):
        value = params.get(field.name)
        if value is None:
            value = environ.get(ENV_VARIABLES[field.name]) or None
        if value is not None and field.name == "validate_certs":
            value = _as_bool(value, field.name)
        values[field.name] = value
    return ConnectionSettings(**values)


def require_kubernetes() -> None:
    if not HAS_KUBERNETES:
        raise KubeError(
            "the Python package 'kubernetes' is missing on the controller: pip install -r requirements.txt"
        )


def _kubeconfig_path(settings: ConnectionSettings, environ: Mapping[str, str]) -> str | None:
    if settings.kubeconfig:
        path = os.path.expanduser(settings.kubeconfig)
        if not os.path.isfile(path):
            raise KubeError(
                f"kubeconfig {path} does not exist: fix the kubeconfig option or {LOCAL_CLUSTER_HINT}"
            )
        return path
    for candidate in environ.get("KUBECONFIG", "").split(os.pathsep):
        if candidate and os.path.isfile(os.path.expanduser(candidate)):
            return os.path.expanduser(candidate)
    default = os.path.expanduser("~/.kube/config")
    return default if os.path.isfile(default) else None


def _configuration(settings: ConnectionSettings, environ: Mapping[str, str]) -> Any:
    configuration = kubernetes.client.Configuration()
    kubeconfig = None if settings.host else _kubeconfig_path(settings, environ)
    if kubeconfig:
        try:
            contexts, _current = kubernetes.config.list_kube_config_contexts(config_file=kubeconfig)
        except (ConfigException, OSError, ValueError) as exc:
            raise KubeError(
                f"kubeconfig {kubeconfig} cannot be read ({exc}): fix or replace that file"
            ) from None
        names = sorted(c["name"] for c in contexts or [])
        if settings.context and settings.context not in names:
            raise KubeError(
                f"context {settings.context!r} is not in kubeconfig {kubeconfig}: use one of {', '.join(names) or '(none)'}"
            )
        try:
            kubernetes.config.load_kube_config(
                config_file=kubeconfig,
                context=settings.context,
                client_configuration=configuration,
                persist_config=False,
            )
        except (ConfigException, OSError, ValueError) as exc:
            raise KubeError(
                f"kubeconfig {kubeconfig} is not usable ({exc}): fix or replace that file"
            ) from None
    elif settings.host:
        configuration.host = settings.host
    elif environ.get("KUBERNETES_SERVICE_HOST"):
        try:
            kubernetes.config.load_incluster_config(client_configuration=configuration)
        except ConfigException as exc:
            raise KubeError(f"in-cluster configuration failed ({exc}): set kubeconfig instead") from None
    else:
        raise KubeError(
            "no Kubernetes connection: no kubeconfig option, K8S_AUTH_KUBECONFIG, KUBECONFIG or ~/.kube/config, "
            f"and not running in a pod: {LOCAL_CLUSTER_HINT}"
        )
    if settings.api_key:
        configuration.api_key = {"authorization": settings.api_key}
        configuration.api_key_prefix = {"authorization": "Bearer"}
    if settings.username:
        configuration.username = settings.username
        configuration.password = settings.password
    if settings.validate_certs is not None:
        configuration.verify_ssl = settings.validate_certs
    if settings.ca_cert:
        configuration.ssl_ca_cert = settings.ca_cert
    if settings.client_cert:
        configuration.cert_file = settings.client_cert
    if settings.client_key:
        configuration.key_file = settings.client_key
    if settings.proxy:
        configuration.proxy = settings.proxy
    # Fail fast on an unreachable server instead of urllib3's default retries.
    configuration.retries = False
    return configuration


_CLIENTS: dict[tuple[Any, ...], Any] = {}


def api_client_from_settings(settings: ConnectionSettings, environ: Mapping[str, str] | None = None) -> Any:
    """A cached ApiClient: the same settings (and unchanged kubeconfig file) reuse one connection pool."""
    require_kubernetes()
    environ = os.environ if environ is None else environ
    kubeconfig = None if settings.host else _kubeconfig_path(settings, environ)
    mtime = os.stat(kubeconfig).st_mtime_ns if kubeconfig else None
    key = (settings, kubeconfig, mtime, environ.get("KUBERNETES_SERVICE_HOST"))
    client = _CLIENTS.get(key)
    if client is None:
        client = kubernetes.client.ApiClient(_configuration(settings, environ))
        _CLIENTS[key] = client
    return client


def api_client_from_params(params: Mapping[str, Any]) -> Any:
    return api_client_from_settings(settings_from_params(params))
