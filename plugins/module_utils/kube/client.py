# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One Kubernetes API client per set of connection settings.

Settings come from module options, else from the `K8S_AUTH_*` environment variables that AWX's
Kubernetes credential injects (the same names kubernetes.core reads), else from `KUBECONFIG` /
`~/.kube/config`, else from the in-cluster service account. Every failure to connect is turned into a
`KubeError` whose message is one line saying what is wrong and how to fix it.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

try:
    import kubernetes
    import urllib3
    from kubernetes.config.config_exception import ConfigException
    from urllib3._collections import HTTPHeaderDict

    HAS_KUBERNETES = True
except ImportError:  # reported by require_kubernetes(), so modules can fail with a clear message
    HAS_KUBERNETES = False

LOCAL_CLUSTER_HINT = "run `make demo` to start the local cluster, or set kubeconfig"


class KubeError(Exception):
    """An error meant for the user: str() is one line naming the problem and the fix."""


@dataclass(frozen=True)
class ConnectionSettings:
    # A path, or several joined by os.pathsep (merged as kubectl merges KUBECONFIG).
    kubeconfig: str | None = None
    # A kubeconfig given as a dict (AWX users pass one), as its JSON text so that the settings stay hashable.
    kubeconfig_data: str | None = None
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
    no_proxy: str | None = None
    # (header option, value) pairs of proxy_headers: proxy_basic_auth, basic_auth, user_agent.
    proxy_headers: tuple[tuple[str, str], ...] | None = None
    persist_config: bool | None = None
    impersonate_user: str | None = None
    impersonate_groups: tuple[str, ...] | None = None


# The connection options, with kubernetes.core's names, types and aliases, so that one module_defaults
# entry serves both collections' modules.
PROXY_HEADER_OPTIONS = ("proxy_basic_auth", "basic_auth", "user_agent")
CONNECTION_OPTIONS: dict[str, dict[str, Any]] = {
    # no_log: a kubeconfig given as a dict holds credentials.
    "kubeconfig": {"type": "raw", "no_log": True},
    "context": {"type": "str"},
    "host": {"type": "str"},
    "api_key": {"type": "str", "no_log": True},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "validate_certs": {"type": "bool", "aliases": ["verify_ssl"]},
    "ca_cert": {"type": "path", "aliases": ["ssl_ca_cert"]},
    "client_cert": {"type": "path", "aliases": ["cert_file"]},
    "client_key": {"type": "path", "aliases": ["key_file"]},
    "proxy": {"type": "str"},
    "no_proxy": {"type": "str"},
    "proxy_headers": {
        "type": "dict",
        "options": {
            "proxy_basic_auth": {"type": "str", "no_log": True},
            "basic_auth": {"type": "str", "no_log": True},
            "user_agent": {"type": "str"},
        },
    },
    "persist_config": {"type": "bool"},
    "impersonate_user": {"type": "str"},
    "impersonate_groups": {"type": "list", "elements": "str"},
}

# Option name -> its environment variables, the first one set wins, as kubernetes.core reads them (AWX's
# Kubernetes credential sets the second name of the pairs); proxy_headers reads
# K8S_AUTH_PROXY_HEADERS_<SUBOPTION> for each of its suboptions.
ENV_VARIABLES: dict[str, tuple[str, ...]] = {
    "kubeconfig": ("K8S_AUTH_KUBECONFIG",),
    "context": ("K8S_AUTH_CONTEXT",),
    "host": ("K8S_AUTH_HOST",),
    "api_key": ("K8S_AUTH_API_KEY",),
    "username": ("K8S_AUTH_USERNAME",),
    "password": ("K8S_AUTH_PASSWORD",),
    "validate_certs": ("K8S_AUTH_VALIDATE_CERTS", "K8S_AUTH_VERIFY_SSL"),
    "ca_cert": ("K8S_AUTH_CA_CERT", "K8S_AUTH_SSL_CA_CERT"),
    "client_cert": ("K8S_AUTH_CLIENT_CERT", "K8S_AUTH_CERT_FILE"),
    "client_key": ("K8S_AUTH_CLIENT_KEY", "K8S_AUTH_KEY_FILE"),
    "proxy": ("K8S_AUTH_PROXY",),
    "no_proxy": ("K8S_AUTH_NO_PROXY",),
    "persist_config": ("K8S_AUTH_PERSIST_CONFIG",),
    "impersonate_user": ("K8S_AUTH_IMPERSONATE_USER",),
    "impersonate_groups": ("K8S_AUTH_IMPERSONATE_GROUPS",),
}


def connection_argument_spec() -> dict[str, dict[str, Any]]:
    """The connection options shared by every Kubernetes module of the collection."""
    return copy.deepcopy(CONNECTION_OPTIONS)


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise KubeError(f"{name}={value!r} is not a boolean: use true or false")


def _proxy_headers(value: Any, environ: Mapping[str, str]) -> tuple[tuple[str, str], ...] | None:
    given = value or {
        name: environ[f"K8S_AUTH_PROXY_HEADERS_{name.upper()}"]
        for name in PROXY_HEADER_OPTIONS
        if environ.get(f"K8S_AUTH_PROXY_HEADERS_{name.upper()}")
    }
    unknown = sorted(set(given) - set(PROXY_HEADER_OPTIONS))
    if unknown:
        raise KubeError(f"proxy_headers: unknown {', '.join(unknown)}: use {', '.join(PROXY_HEADER_OPTIONS)}")
    pairs = tuple(sorted((k, str(v)) for k, v in given.items() if v is not None))
    return pairs or None


def settings_from_params(
    params: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> ConnectionSettings:
    """Module options win; unset options fall back to their K8S_AUTH_* environment variable."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, variables in ENV_VARIABLES.items():
        value = params.get(name)
        if value is None:
            value = next((environ[v] for v in variables if environ.get(v)), None)
        values[name] = value
    for name in ("validate_certs", "persist_config"):
        if values[name] is not None:
            values[name] = _as_bool(values[name], name)
    groups = values["impersonate_groups"]
    if isinstance(groups, str):  # K8S_AUTH_IMPERSONATE_GROUPS: comma-separated
        groups = groups.split(",")
    values["impersonate_groups"] = tuple(g.strip() for g in groups or () if g.strip()) or None
    kubeconfig = values["kubeconfig"]
    if isinstance(kubeconfig, Mapping):
        values["kubeconfig"], values["kubeconfig_data"] = None, json.dumps(kubeconfig, sort_keys=True)
    elif kubeconfig is not None and not isinstance(kubeconfig, str):
        raise KubeError(
            f"kubeconfig must be a path or a dict (a kubeconfig's content), not {type(kubeconfig).__name__}"
        )
    values["proxy_headers"] = _proxy_headers(params.get("proxy_headers"), environ)
    return ConnectionSettings(**values)


def require_kubernetes() -> None:
    if not HAS_KUBERNETES:
        raise KubeError(
            "the Python package 'kubernetes' is missing on the controller: pip install -r requirements.txt"
        )


def _kubeconfig_files(settings: ConnectionSettings, environ: Mapping[str, str]) -> list[str]:
    """The kubeconfig files to merge, in order: like kubectl, a list joined by os.pathsep is read as one."""
    if settings.kubeconfig:
        files = [os.path.expanduser(f) for f in settings.kubeconfig.split(os.pathsep) if f]
        for path in files:
            if not os.path.isfile(path):
                raise KubeError(
                    f"kubeconfig {path} does not exist: fix the kubeconfig option or {LOCAL_CLUSTER_HINT}"
                )
        return files
    # KUBECONFIG as kubectl reads it: files that do not exist are skipped.
    files = [os.path.expanduser(f) for f in environ.get("KUBECONFIG", "").split(os.pathsep) if f]
    files = [f for f in files if os.path.isfile(f)]
    if files:
        return files
    default = os.path.expanduser("~/.kube/config")
    return [default] if os.path.isfile(default) else []


def _load_kubeconfig(settings: ConnectionSettings, files: list[str], configuration: Any) -> None:
    """Load the context of a kubeconfig (files merged by the kubernetes client, or a dict) into configuration."""
    where = os.pathsep.join(files) if files else "given as a dict"
    try:
        if settings.kubeconfig_data:
            data = json.loads(settings.kubeconfig_data)
            contexts = data.get("contexts") or []
        else:
            contexts, _current = kubernetes.config.list_kube_config_contexts(
                config_file=os.pathsep.join(files)
            )
    except (ConfigException, OSError, ValueError) as exc:
        raise KubeError(f"kubeconfig {where} cannot be read ({exc}): fix or replace it") from None
    names = sorted(c["name"] for c in contexts or [])
    if settings.context and settings.context not in names:
        raise KubeError(
            f"context {settings.context!r} is not in kubeconfig {where}: use one of {', '.join(names) or '(none)'}"
        )
    options = {
        "context": settings.context,
        "client_configuration": configuration,
        "persist_config": bool(settings.persist_config),
    }
    try:
        if settings.kubeconfig_data:
            kubernetes.config.load_kube_config_from_dict(config_dict=data, **options)
        else:
            kubernetes.config.load_kube_config(config_file=os.pathsep.join(files), **options)
    except (ConfigException, OSError, ValueError) as exc:
        raise KubeError(f"kubeconfig {where} is not usable ({exc}): fix or replace it") from None


def _configuration(settings: ConnectionSettings, environ: Mapping[str, str]) -> Any:
    configuration = kubernetes.client.Configuration()
    files = [] if settings.host else _kubeconfig_files(settings, environ)
    if files or (settings.kubeconfig_data and not settings.host):
        _load_kubeconfig(settings, files, configuration)
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
    if settings.no_proxy:
        configuration.no_proxy = settings.no_proxy
    if settings.proxy_headers:
        configuration.proxy_headers = urllib3.util.make_headers(**dict(settings.proxy_headers))
    # Fail fast on an unreachable server instead of urllib3's default retries.
    configuration.retries = False
    return configuration


def _impersonation_headers(settings: ConnectionSettings) -> list[tuple[str, str]]:
    """Impersonate-User, and one Impersonate-Group header per group (the API server reads each line as one)."""
    headers = [("Impersonate-User", settings.impersonate_user)] if settings.impersonate_user else []
    if settings.impersonate_groups and not settings.impersonate_user:
        raise KubeError(
            "impersonate_groups needs impersonate_user: the API server impersonates groups of a user"
        )
    headers += [("Impersonate-Group", group) for group in settings.impersonate_groups or ()]
    return headers


def _api_client(configuration: Any, impersonation: list[tuple[str, str]]) -> Any:
    if not impersonation:
        return kubernetes.client.ApiClient(configuration)

    class ImpersonatingApiClient(kubernetes.client.ApiClient):
        # The generated client keeps headers in a plain dict, which holds one value per name: the
        # impersonation headers are added to each request as a multi-value header dict instead. Exec goes
        # through a websocket that bypasses request(); exec_in_pod reads `impersonation` to refuse it.
        def request(self, method, url, query_params=None, headers=None, *args, **kwargs):
            merged = HTTPHeaderDict(headers or {})
            for name, value in impersonation:
                merged.add(name, value)
            return super().request(method, url, query_params, merged, *args, **kwargs)

    client = ImpersonatingApiClient(configuration)
    client.impersonation = impersonation
    return client


_CLIENTS: dict[tuple[Any, ...], Any] = {}


def api_client_from_settings(settings: ConnectionSettings, environ: Mapping[str, str] | None = None) -> Any:
    """A cached ApiClient: the same settings (and unchanged kubeconfig files) reuse one connection pool."""
    require_kubernetes()
    environ = os.environ if environ is None else environ
    files = [] if settings.host else _kubeconfig_files(settings, environ)
    mtimes = tuple(os.stat(f).st_mtime_ns for f in files)
    key = (settings, tuple(files), mtimes, environ.get("KUBERNETES_SERVICE_HOST"))
    client = _CLIENTS.get(key)
    if client is None:
        impersonation = _impersonation_headers(settings)
        client = _api_client(_configuration(settings, environ), impersonation)
        _CLIENTS[key] = client
    return client


def api_client_from_params(params: Mapping[str, Any]) -> Any:
    return api_client_from_settings(settings_from_params(params))
