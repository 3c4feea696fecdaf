# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate the parameters of redundant.kube.app and normalise them into frozen dataclasses.

Input is the parameter dict as Ansible hands it to a module (defaults filled in by the argument_spec in
argspec.py). Every rule the argument_spec cannot express is checked here, and every error is a
`SpecError` whose message names the option and says how to fix it, before anything reaches a cluster.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ansible_collections.redundant.kube.plugins.module_utils.app.argspec import (
    ACCESS_MODES,
    APP_ARGUMENT_SPEC,
    APP_REQUIRED_IF,
    TOPOLOGIES,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.objects import is_dns_subdomain


class SpecError(ValueError):
    """An invalid application spec; str() is one line naming the option and the fix."""


SIDES = ("a", "b")
# Pod volumes and init containers the module adds itself (config files, odbc, keystore, ...) carry this prefix.
RESERVED_PREFIX = "rk-"
SERVER = "server"

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# Image references as container runtimes parse them (the distribution/reference grammar).
_IMAGE_PATH = re.compile(r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$")
_IMAGE_DOMAIN = re.compile(
    r"^([a-zA-Z0-9]|[a-zA-Z0-9][-a-zA-Z0-9]*[a-zA-Z0-9])(\.([a-zA-Z0-9]|[a-zA-Z0-9][-a-zA-Z0-9]*[a-zA-Z0-9]))*"
    r"(:[0-9]+)?$|^\[[0-9a-fA-F:.]+\](:[0-9]+)?$"
)
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_IMAGE_DIGEST = re.compile(r"^(?P<algorithm>[a-z0-9]+([+._-][a-z0-9]+)*):(?P<hex>[0-9a-fA-F]+)$")
_DIGEST_HEX_LENGTH = {"sha256": 64, "sha384": 96, "sha512": 128}
_MAX_IMAGE_NAME = 255
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_QUANTITY = re.compile(
    r"^(?P<num>[0-9]+(\.[0-9]*)?|\.[0-9]+)(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][0-9]+)?$"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"m": Decimal("0.001"), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
# Longest object name we derive is "<app>-<workload>-<side>"; Service and label values stop at 63.
_MAX_NAME = 63


def parse_quantity(text: str) -> Decimal:
    """A Kubernetes resource quantity ("10Gi", "500M", "1.5") as a number; SpecError if it is not one."""
    match = _QUANTITY.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise SpecError(f"'{text}' is not a Kubernetes quantity: write e.g. 10Gi, 512Mi or 1G")
    number = Decimal(match["num"])
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * Decimal(_DECIMAL[suffix])
    if suffix:
        return number * (Decimal(10) ** int(suffix[1:]))
    return number


@dataclass(frozen=True)
class Probe:
    handler: str  # exec | httpGet | tcpSocket
    command: tuple[str, ...] = ()
    path: str = "/"
    port: int | str = 0
    scheme: str = "HTTP"
    timing: tuple[tuple[str, int], ...] = ()  # (camelCase field, value), only the fields set


@dataclass(frozen=True)
class Port:
    name: str
    container_port: int
    protocol: str


@dataclass(frozen=True)
class Container:
    """One process: the server, a companion or a per-side singleton."""

    name: str
    image: str
    image_pull_policy: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    ports: tuple[Port, ...]
    resources: dict[str, Any] | None
    capabilities: tuple[str, ...]
    privileged: bool
    devices: tuple[str, ...]
    security_context: dict[str, Any] | None
    liveness_probe: Probe | None
    readiness_probe: Probe | None
    startup_probe: Probe | None


@dataclass(frozen=True)
class PerSide:
    """A singleton with one instance per side, e.g. archive instance 1 beside A and 2 beside B."""

    container: Container
    instances: tuple[tuple[str, int], ...]  # (side, instance number)
    roles: tuple[tuple[str, str], ...]  # (side, active|passive)
    instance_env: str | None


@dataclass(frozen=True)
class InitMount:
    """One of the workload's volumes, as an init container sees it."""

    volume: str
    mount_path: str
    sub_path: str | None
    read_only: bool


@dataclass(frozen=True)
class InitContainer:
    """A process that runs to completion before the workload's container starts (no ports, probes or devices)."""

    container: Container
    mounts: tuple[InitMount, ...]
    workloads: tuple[str, ...] | None  # None: every workload


@dataclass(frozen=True)
class Volume:
    name: str
    mount_path: str
    sub_path: str | None
    read_only: bool
    source: str  # claim | nfs | host_path | empty_dir | secret
    size: str | None = None
    storage_class: str | None = None
    access_mode: str = "ReadWriteOnce"
    nfs_server: str | None = None
    nfs_path: str | None = None
    host_path: str | None = None
    host_path_type: str = ""
    secret: str | None = None  # a Secret made elsewhere (keystore.yml's rk_secrets), mounted read-only
    workloads: tuple[str, ...] | None = None  # None: every workload

    @property
    def shared(self) -> bool:
        """Can one claim serve several pods? ReadWriteOncePod allows one pod only."""
        return self.access_mode != "ReadWriteOncePod"


@dataclass(frozen=True)
class ConfigFile:
    path: str
    content: str
    workloads: tuple[str, ...] | None


@dataclass(frozen=True)
class Odbc:
    path: str
    dsns: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    workloads: tuple[str, ...] | None


@dataclass(frozen=True)
class ServicePort:
    name: str
    port: int
    target_port: int | str
    node_port: int | None
    protocol: str


@dataclass(frozen=True)
class Service:
    name: str  # full object name (per-side services add -a / -b)
    type: str
    ports: tuple[ServicePort, ...]
    session_affinity: bool
    session_affinity_timeout: int
    per_side: bool
    workload: str


@dataclass(frozen=True)
class EgressRule:
    cidr: str
    ports: tuple[int, ...]
    protocol: str


@dataclass(frozen=True)
class Egress:
    allow: tuple[EgressRule, ...]
    dns: bool


@dataclass(frozen=True)
class ExternalMount:
    """A Secret or ConfigMap made by another module (keystore, license): mounted, not owned."""

    option: str  # keystore | license
    kind: str  # Secret | ConfigMap
    name: str
    mount_path: str
    key: str | None
    workloads: tuple[str, ...] | None


@dataclass(frozen=True)
class CoreDumps:
    directory: str
    host_path: str
    workloads: tuple[str, ...] | None


@dataclass(frozen=True)
class ActiveProbe:
    type: str  # label | annotation | exec | http
    key: str
    value: str
    command: tuple[str, ...]
    path: str
    port: int | None
    scheme: str
    via: str = "pod_ip"  # http: pod_ip from the controller, or api_server (the API server's pod proxy)


@dataclass(frozen=True)
class Ingress:
    host: str
    paths: tuple[str, ...]
    service: str
    port: int | str
    tls_secret: str | None
    class_name: str | None
    cookie_affinity: bool
    cookie_name: str
    cookie_max_age: int


@dataclass(frozen=True)
class AppSpec:
    name: str
    namespace: str
    topology: str
    topology_key: str
    replicas: int
    server: Container
    companions: tuple[Container, ...]
    per_side: tuple[PerSide, ...]
    init_containers: tuple[InitContainer, ...]
    volumes: tuple[Volume, ...]
    config_files: tuple[ConfigFile, ...]
    odbc: Odbc | None
    env_from_secrets: tuple[str, ...]
    services: tuple[Service, ...]
    egress: Egress | None
    external_mounts: tuple[ExternalMount, ...]
    core_dumps: CoreDumps | None
    active_probe: ActiveProbe | None
    node_selector: tuple[tuple[str, str], ...]
    tolerations: tuple[dict[str, Any], ...]
    failover_toleration_seconds: int
    priority_class: str | None
    image_pull_secrets: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]
    annotations: tuple[tuple[str, str], ...]
    ingress: Ingress | None
    member_id_env: str
    side_env: str
    workload_names: tuple[str, ...] = field(default=())

    @property
    def sides(self) -> tuple[str | None, ...]:
        """Sides of the pair; one unnamed side for single and cluster."""
        return SIDES if self.topology == "pair" else (None,)


def validate_params(raw: dict[str, Any]) -> dict[str, Any]:
    """Run user parameters through the module's argument_spec, as AnsibleModule does (fills defaults).

    For callers outside a module (unit tests, scripts); the module itself gets the same from AnsibleModule.
    """
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    validator = ArgumentSpecValidator(APP_ARGUMENT_SPEC, required_if=APP_REQUIRED_IF)
    result = validator.validate(raw)
    if result.error_messages:
        raise SpecError(result.error_messages[0])
    return result.validated_parameters


def _text(value: Any) -> str:
    """Environment and label values are strings in Kubernetes; YAML booleans become true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_name(option: str, value: str) -> None:
    """An app or namespace name: a DNS label (RFC 1123, starting with a letter)."""
    if not isinstance(value, str) or len(value) > _MAX_NAME or not _DNS_LABEL.match(value):
        raise SpecError(
            f"{option} '{value}' is not a valid name: use lower-case letters, digits and '-', starting with a letter "
            f"(at most {_MAX_NAME})"
        )


def _check_subdomain(option: str, value: str) -> None:
    """Secret, ConfigMap and class names are DNS subdomains (lower case, digits, '-' and '.')."""
    if not is_dns_subdomain(value):
        raise SpecError(
            f"{option} '{value}' is not a valid object name: use lower-case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit"
        )


def _optional_subdomain(option: str, value: str | None) -> str | None:
    if value is not None:
        _check_subdomain(option, value)
    return value


def _check_image(option: str, image: str) -> None:
    """The reference grammar the container runtime applies: [domain/]path[:tag][@algorithm:hex]."""
    rest, _at, digest = image.partition("@")
    name, tag = rest, None
    if ":" in rest.rsplit("/", 1)[-1]:
        name, tag = rest.rsplit(":", 1)
    if not digest and not tag:
        raise SpecError(f"{option} '{image}' has no tag: write {image.rstrip(':')}:<tag>")
    if digest:
        match = _IMAGE_DIGEST.match(digest)
        length = len(match["hex"]) if match else 0
        if not match or length != _DIGEST_HEX_LENGTH.get(match["algorithm"], max(length, 32)):
            raise SpecError(
                f"{option} '{image}': digest '{digest}' is not a digest: write sha256: and its 64 hex digits"
            )
    if tag is not None and not _IMAGE_TAG.match(tag):
        raise SpecError(
            f"{option} '{image}': tag '{tag}' is not a tag: use letters, digits, '_', '.' and '-' "
            "(at most 128, not starting with '.' or '-')"
        )
    domain, _slash, path = name.partition("/")
    valid = _IMAGE_PATH.match(name) or (path and _IMAGE_DOMAIN.match(domain) and _IMAGE_PATH.match(path))
    if len(name) > _MAX_IMAGE_NAME or not valid:
        raise SpecError(
            f"{option} '{image}': '{name}' is not an image name: write [registry[:port]/]path, the path in "
            "lower-case letters, digits and the separators '.', '_' and '-', e.g. registry.example.com/team/app"
        )


def _check_env_name(option: str, name: str) -> None:
    if not _ENV_NAME.match(name):
        raise SpecError(f"{option}: '{name}' is not a valid environment variable name")


def _check_abs_path(option: str, path: str, file: bool = False) -> str:
    """An absolute path in the container (or on the node), normalised; `file`: a file's path, not a directory's."""
    if not path.startswith("/"):
        raise SpecError(f"{option} '{path}' must be an absolute path inside the container")
    if ".." in path.split("/"):
        raise SpecError(f"{option} '{path}' contains '..': write the path it should reach without '..'")
    if file and (path.endswith("/") or posixpath.normpath(path) == "/"):
        raise SpecError(
            f"{option} '{path}' ends in '/': give the path of the file, e.g. {path.rstrip('/')}/app.conf"
        )
    # normpath keeps the two leading slashes POSIX allows ('//etc'); in a container they are one directory.
    return "/" + posixpath.normpath(path).lstrip("/")


def _probe(option: str, raw: dict[str, Any] | None) -> Probe | None:
    if not raw:
        return None
    timing = tuple(
        (camel, raw[snake])
        for snake, camel in (
            ("initial_delay_seconds", "initialDelaySeconds"),
            ("period_seconds", "periodSeconds"),
            ("timeout_seconds", "timeoutSeconds"),
            ("failure_threshold", "failureThreshold"),
            ("success_threshold", "successThreshold"),
        )
        if raw.get(snake) is not None
    )
    if raw.get("exec"):
        return Probe("exec", command=tuple(raw["exec"]), timing=timing)
    if raw.get("http_get"):
        http = raw["http_get"]
        return Probe(
            "httpGet",
            path=http["path"],
            port=_port(f"{option}.http_get.port", http["port"]),
            scheme=http["scheme"],
            timing=timing,
        )
    if raw.get("tcp_socket"):
        return Probe(
            "tcpSocket", port=_port(f"{option}.tcp_socket.port", raw["tcp_socket"]["port"]), timing=timing
        )
    raise SpecError(f"{option}: set one of exec, http_get or tcp_socket")


def _port(option: str, value: Any) -> int | str:
    """A port number or a port name, as Kubernetes' IntOrString."""
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        number = int(value)
        if not 0 < number < 65536:
            raise SpecError(f"{option} {number} is not a port number (1-65535)")
        return number
    if isinstance(value, str) and re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", value) and len(value) <= 15:
        return value
    raise SpecError(f"{option} '{value}' is neither a port number nor a port name")


def _check_resources(option: str, raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """requests and limits are quantities, and no limit is below its request (the API server's rules)."""
    if not raw:
        return None
    amounts: dict[str, dict[str, Decimal]] = {}
    for section, values in raw.items():
        if section not in ("requests", "limits") or not isinstance(values, dict):
            raise SpecError(
                f"{option}.{section}: give requests and limits, each a dictionary such as {{cpu: 500m}}"
            )
        amounts[section] = {}
        for resource, value in values.items():
            try:
                amounts[section][resource] = parse_quantity(
                    str(value) if isinstance(value, (int, float)) else value
                )
            except SpecError as exc:
                raise SpecError(f"{option}.{section}.{resource} {exc}") from None
    for resource, request in amounts.get("requests", {}).items():
        limit = amounts.get("limits", {}).get(resource)
        if limit is not None and limit < request:
            raise SpecError(
                f"{option}.limits.{resource} '{raw['limits'][resource]}' is below requests.{resource} "
                f"'{raw['requests'][resource]}': raise the limit or lower the request"
            )
    return raw


def _container(option: str, raw: dict[str, Any]) -> Container:
    check_name(f"{option}.name", raw["name"])
    _check_image(f"{option}.image", raw["image"])
    env = []
    for key, value in (raw.get("env") or {}).items():
        _check_env_name(f"{option}.env", key)
        env.append((key, _text(value)))
    ports = []
    port_names: dict[str, int] = {}
    for i, port in enumerate(raw.get("ports") or []):
        check_name(f"{option}.ports[{i}].name", port["name"])
        if len(port["name"]) > 15:
            raise SpecError(f"{option}.ports[{i}].name '{port['name']}' is longer than 15 characters")
        if port["name"] in port_names:
            raise SpecError(
                f"{option}.ports[{i}].name '{port['name']}' is also ports[{port_names[port['name']]}]: "
                "port names must be unique"
            )
        port_names[port["name"]] = i
        ports.append(
            Port(
                port["name"],
                int(_port(f"{option}.ports[{i}].container_port", port["container_port"])),
                port["protocol"],
            )
        )
    devices = tuple(_check_abs_path(f"{option}.devices", d) for d in raw.get("devices") or [])
    for cap in raw.get("capabilities") or []:
        if not re.match(r"^[A-Z_]+$", cap):
            raise SpecError(
                f"{option}.capabilities: '{cap}' is not a capability name: write e.g. NET_BIND_SERVICE"
            )
    return Container(
        name=raw["name"],
        image=raw["image"],
        image_pull_policy=raw["image_pull_policy"],
        command=tuple(raw.get("command") or ()),
        args=tuple(raw.get("args") or ()),
        env=tuple(env),
        ports=tuple(ports),
        resources=_check_resources(f"{option}.resources", raw.get("resources")),
        capabilities=tuple(c.upper() for c in raw.get("capabilities") or ()),
        privileged=bool(raw.get("privileged")),
        devices=devices,
        security_context=raw.get("security_context") or None,
        liveness_probe=_probe(f"{option}.liveness_probe", raw.get("liveness_probe")),
        readiness_probe=_probe(f"{option}.readiness_probe", raw.get("readiness_probe")),
        startup_probe=_probe(f"{option}.startup_probe", raw.get("startup_probe")),
    )


def _workload(option: str, name: str, known: tuple[str, ...]) -> str:
    """A workload name; "server" always means the server (known[0]), whatever it is called."""
    if name == SERVER:
        return known[0]
    if name not in known:
        raise SpecError(f"{option}: '{name}' is not a workload of this app (known: {', '.join(known)})")
    return name


def _workloads(option: str, value: list[str] | None, known: tuple[str, ...]) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(dict.fromkeys(_workload(option, name, known) for name in value))


def _volume(option: str, raw: dict[str, Any], known: tuple[str, ...]) -> Volume:
    check_name(f"{option}.name", raw["name"])
    _check_sub_path(f"{option}.sub_path", raw.get("sub_path"))
    common = {
        "name": raw["name"],
        "mount_path": _check_abs_path(f"{option}.mount_path", raw["mount_path"]),
        "sub_path": raw.get("sub_path"),
        "read_only": raw["read_only"],
        "workloads": _workloads(f"{option}.workloads", raw.get("workloads"), known),
    }
    if raw.get("nfs"):
        return Volume(
            source="nfs",
            nfs_server=raw["nfs"]["server"],
            nfs_path=_check_abs_path(f"{option}.nfs.path", raw["nfs"]["path"]),
            **common,
        )
    if raw.get("host_path"):
        return Volume(
            source="host_path",
            host_path=_check_abs_path(f"{option}.host_path.path", raw["host_path"]["path"]),
            host_path_type=raw["host_path"]["type"],
            **common,
        )
    if raw.get("empty_dir"):
        return Volume(source="empty_dir", **common)
    if raw.get("secret"):
        _check_subdomain(f"{option}.secret", raw["secret"])
        # The kubelet mounts Secret volumes read-only whatever the pod says; the manifest says so too.
        return Volume(source="secret", secret=raw["secret"], **{**common, "read_only": True})
    if not raw.get("size"):
        raise SpecError(f"{option}: set size (a claim), nfs, host_path, empty_dir or secret")
    try:
        parse_quantity(raw["size"])
    except SpecError as exc:
        raise SpecError(f"{option}.size {exc}") from None
    if raw["access_mode"] not in ACCESS_MODES:
        raise SpecError(
            f"{option}.access_mode '{raw['access_mode']}' is not one of {', '.join(ACCESS_MODES)}"
        )
    return Volume(
        source="claim",
        size=raw["size"],
        storage_class=_optional_subdomain(f"{option}.storage_class", raw.get("storage_class")),
        access_mode=raw["access_mode"],
        **common,
    )


def _external_mount(option: str, raw: dict[str, Any] | None, known: tuple[str, ...]) -> ExternalMount | None:
    if not raw:
        return None
    kind, name = ("Secret", raw["secret"]) if raw.get("secret") else ("ConfigMap", raw.get("config_map"))
    if not name:
        raise SpecError(f"{option}: set secret or config_map (the object made by the {option} module)")
    _check_subdomain(f"{option}.{'secret' if kind == 'Secret' else 'config_map'}", name)
    return ExternalMount(
        option=option,
        kind=kind,
        name=name,
        mount_path=_check_abs_path(f"{option}.mount_path", raw["mount_path"]),
        key=raw.get("key"),
        workloads=_workloads(f"{option}.workloads", raw.get("workloads"), known),
    )


def _check_unique_service_ports(option: str, ports: list[ServicePort]) -> None:
    names: dict[str, int] = {}
    numbers: dict[tuple[int, str], int] = {}
    for j, port in enumerate(ports):
        check_name(f"{option}.ports[{j}].name", port.name)
        if port.name in names:
            raise SpecError(
                f"{option}.ports[{j}].name '{port.name}' is also ports[{names[port.name]}]: port names must be unique"
            )
        if (port.port, port.protocol) in numbers:
            raise SpecError(
                f"{option}.ports[{j}].port {port.port}/{port.protocol} is also ports[{numbers[port.port, port.protocol]}]"
            )
        names[port.name], numbers[port.port, port.protocol] = j, j


def _services(
    app: str, raw: list[dict[str, Any]], topology: str, known: tuple[str, ...]
) -> tuple[Service, ...]:
    services = []
    for i, svc in enumerate(raw):
        option = f"services[{i}]"
        if svc.get("name"):
            check_name(f"{option}.name", svc["name"])
        name = f"{app}-{svc['name']}" if svc.get("name") else app
        if len(name) + 2 > _MAX_NAME:
            raise SpecError(
                f"{option}.name gives service '{name}', too long (63 characters with -a/-b): shorten it"
            )
        if svc["per_side"] and topology != "pair":
            raise SpecError(
                f"{option}.per_side needs topology: pair (this app is {topology}): remove per_side"
            )
        workload = _workload(f"{option}.workload", svc["workload"], known)
        if not svc["ports"]:
            raise SpecError(f"{option}.ports: give at least one port")
        ports = []
        for j, port in enumerate(svc["ports"]):
            target = port.get("target_port")
            target = port["port"] if target is None else _port(f"{option}.ports[{j}].target_port", target)
            if port.get("node_port") is not None and svc["type"] == "ClusterIP":
                raise SpecError(f"{option}.ports[{j}].node_port needs type NodePort or LoadBalancer")
            ports.append(
                ServicePort(
                    port["name"],
                    int(_port(f"{option}.ports[{j}].port", port["port"])),
                    target,
                    port.get("node_port"),
                    port["protocol"],
                )
            )
        _check_unique_service_ports(option, ports)
        if svc["per_side"] and any(p.node_port for p in ports):
            raise SpecError(
                f"{option}.ports: node_port cannot be used with per_side (two services would claim it)"
            )
        services.append(
            Service(
                name,
                svc["type"],
                tuple(ports),
                svc["session_affinity"],
                svc["session_affinity_timeout"],
                svc["per_side"],
                workload,
            )
        )
    seen: dict[str, int] = {}
    for i, svc in enumerate(services):
        if svc.name in seen:
            raise SpecError(
                f"services[{i}].name: service '{svc.name}' is defined twice (also services[{seen[svc.name]}])"
            )
        seen[svc.name] = i
    return tuple(services)


def _odbc(raw: dict[str, Any] | None, known: tuple[str, ...]) -> Odbc | None:
    if not raw:
        return None
    if not raw["dsns"]:
        raise SpecError(
            "odbc.dsns: give at least one DSN, e.g. {config: {Driver: PostgreSQL, Servername: db}}"
        )
    dsns = []
    for dsn, settings in raw["dsns"].items():
        if not isinstance(settings, dict):
            raise SpecError(f"odbc.dsns.{dsn} must be a dictionary of ODBC settings")
        # Long-lived database connections through firewalls die silently without TCP keepalives.
        merged = {"KeepaliveTime": "60", "KeepaliveInterval": "60"}
        merged.update({key: _text(value) for key, value in settings.items()})
        dsns.append((dsn, tuple(merged.items())))
    return Odbc(
        path=_check_abs_path("odbc.path", raw["path"], file=True),
        dsns=tuple(dsns),
        workloads=_workloads("odbc.workloads", raw.get("workloads"), known),
    )


def _core_dumps(raw: dict[str, Any] | None, known: tuple[str, ...]) -> CoreDumps | None:
    if not raw:
        return None
    pattern = raw["core_pattern"].strip()
    if pattern.startswith("|"):
        raise SpecError(
            f"core_dumps.core_pattern '{pattern}' pipes cores to a program on the host, so no volume is needed: "
            "remove core_dumps or set an absolute pattern such as /data/core/core.%p"
        )
    if not pattern.startswith("/"):
        raise SpecError(
            f"core_dumps.core_pattern '{pattern}' is relative (cores land in each process's working directory): "
            "set the node's absolute kernel.core_pattern, e.g. /data/core/core.%p"
        )
    return CoreDumps(
        directory=posixpath.dirname(posixpath.normpath(pattern)),
        host_path=_check_abs_path("core_dumps.host_path", raw["host_path"]),
        workloads=_workloads("core_dumps.workloads", raw.get("workloads"), known),
    )


def _ingress(raw: dict[str, Any] | None, services: tuple[Service, ...], app: str) -> Ingress | None:
    if not raw:
        return None
    if not services:
        raise SpecError("ingress needs a service to route to: add one under services")
    target = next((s for s in services if not s.per_side), None)
    if raw.get("service"):
        wanted = raw["service"]
        target = next((s for s in services if s.name in (wanted, f"{app}-{wanted}")), None)
        if target is None:
            raise SpecError(
                f"ingress.service '{wanted}' is not one of the services: {', '.join(s.name for s in services)}"
            )
    if target is None or target.per_side:
        raise SpecError("ingress needs a service that is not per_side: set ingress.service")
    port = target.ports[0].port if raw.get("port") is None else _port("ingress.port", raw["port"])
    if isinstance(port, str) and port not in {p.name for p in target.ports}:
        raise SpecError(f"ingress.port '{port}' is not a port name of service {target.name}")
    paths = tuple(raw["paths"] or ["/"])
    for path in paths:
        if not path.startswith("/"):
            raise SpecError(f"ingress.paths: '{path}' must start with /")
    return Ingress(
        host=raw["host"],
        paths=paths,
        service=target.name,
        port=port,
        tls_secret=_optional_subdomain("ingress.tls_secret", raw.get("tls_secret")),
        class_name=_optional_subdomain("ingress.class_name", raw.get("class_name")),
        cookie_affinity=raw["cookie_affinity"],
        cookie_name=raw.get("cookie_name") or app,
        cookie_max_age=raw["cookie_max_age"],
    )


def _string_map(raw: dict[str, Any] | None) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), _text(v)) for k, v in (raw or {}).items())


def _check_mount_paths(spec: AppSpec) -> None:
    """A path mounted twice in one container makes the pod invalid: say which two options collide."""
    for workload in spec.workload_names:
        used: dict[str, str] = {}
        for path, option in _workload_mounts(spec, workload):
            if path in used:
                raise SpecError(
                    f"mount path '{path}' is used twice in workload '{workload}': {used[path]} and {option}"
                )
            used[path] = option


def _workload_mounts(spec: AppSpec, workload: str) -> Iterator[tuple[str, str]]:
    """(path, option that mounts it) for every path mounted into one workload's container."""

    def applies(workloads: tuple[str, ...] | None) -> bool:
        return workloads is None or workload in workloads

    for i, vol in enumerate(spec.volumes):
        if applies(vol.workloads):
            yield vol.mount_path, f"volumes[{i}] ({vol.name})"
    for i, cfg in enumerate(spec.config_files):
        if applies(cfg.workloads):
            yield cfg.path, f"config_files[{i}]"
    if spec.odbc and applies(spec.odbc.workloads):
        yield spec.odbc.path, "odbc.path"
    for mount in spec.external_mounts:
        if applies(mount.workloads):
            yield mount.mount_path, f"{mount.option}.mount_path"
    if spec.core_dumps and applies(spec.core_dumps.workloads):
        yield spec.core_dumps.directory, "core_dumps.core_pattern"
    for device in spec_container(spec, workload).devices:
        yield device, f"devices of {workload}"


def spec_container(spec: AppSpec, workload: str) -> Container:
    """The container of a workload by its name."""
    if workload == spec.server.name:
        return spec.server
    for comp in spec.companions:
        if comp.name == workload:
            return comp
    for single in spec.per_side:
        if single.container.name == workload:
            return single.container
    raise KeyError(workload)


def _check_basics(params: dict[str, Any]) -> None:
    check_name("name", params["name"])
    check_name("namespace", params["namespace"])
    if params.get("topology") not in TOPOLOGIES:
        raise SpecError(f"topology '{params.get('topology')}' is unknown: use one of {', '.join(TOPOLOGIES)}")
    if not params.get("server"):
        raise SpecError("server is required: give at least server.image")
    if params["replicas"] < 1:
        raise SpecError(f"replicas must be at least 1, got {params['replicas']}")
    if params["failover_toleration_seconds"] < 0:
        raise SpecError("failover_toleration_seconds must be 0 or more")
    for env_name, option in ((params["member_id_env"], "member_id_env"), (params["side_env"], "side_env")):
        _check_env_name(option, env_name)
    for i, secret in enumerate(params.get("env_from_secrets") or []):
        _check_subdomain(f"env_from_secrets[{i}]", secret)
    for i, secret in enumerate(params.get("image_pull_secrets") or []):
        _check_subdomain(f"image_pull_secrets[{i}]", secret)
    _optional_subdomain("priority_class", params.get("priority_class"))


def _per_side(params: dict[str, Any], topology: str) -> tuple[PerSide, ...]:
    per_side = tuple(
        PerSide(
            container=_container(f"per_side[{i}]", p),
            instances=tuple(sorted(p["instances"].items())),
            roles=tuple(sorted(p["roles"].items())),
            instance_env=p.get("instance_env"),
        )
        for i, p in enumerate(params.get("per_side") or [])
    )
    if per_side and topology != "pair":
        raise SpecError(
            f"per_side needs topology: pair (this app is {topology}): make them companions instead"
        )
    for i, single in enumerate(per_side):
        if single.instance_env:
            _check_env_name(f"per_side[{i}].instance_env", single.instance_env)
        if dict(single.instances)["a"] == dict(single.instances)["b"]:
            raise SpecError(f"per_side[{i}].instances: sides a and b need different instance numbers")
    return per_side


def _workload_names(
    name: str,
    topology: str,
    server: Container,
    companions: tuple[Container, ...],
    per_side: tuple[PerSide, ...],
) -> tuple[str, ...]:
    """The names of the app's workloads, server first; each unique and short enough for its pod names."""
    names: dict[str, str] = {server.name: "server.name"}
    for option, container in [(f"companions[{i}]", c) for i, c in enumerate(companions)] + [
        (f"per_side[{i}]", p.container) for i, p in enumerate(per_side)
    ]:
        if container.name == server.name:
            raise SpecError(f"{option}.name '{container.name}' is the server's name: choose another name")
        if container.name in names:
            raise SpecError(f"{option}.name '{container.name}' is already used by {names[container.name]}")
        names[container.name] = f"{option}.name"
    for workload in names:
        longest = f"{name}-{workload}-a" if topology == "pair" else f"{name}-{workload}"
        if len(longest) > _MAX_NAME - 11:  # room for the pod-template hash Kubernetes appends to pod names
            raise SpecError(
                f"name '{name}' with workload '{workload}' gives '{longest}', too long: shorten name or the workload name"
            )
    return tuple(names)


def _volumes(raw: list[dict[str, Any]], known: tuple[str, ...]) -> tuple[Volume, ...]:
    volumes = tuple(_volume(f"volumes[{i}]", v, known) for i, v in enumerate(raw))
    seen: set[str] = set()
    for i, vol in enumerate(volumes):
        if vol.name.startswith(RESERVED_PREFIX):
            raise SpecError(
                f"volumes[{i}].name '{vol.name}': names starting with {RESERVED_PREFIX} are the module's own"
            )
        if vol.name in seen:
            raise SpecError(f"volumes[{i}].name '{vol.name}' is used twice: volume names must be unique")
        seen.add(vol.name)
    return volumes


def _config_files(raw: list[dict[str, Any]], known: tuple[str, ...]) -> tuple[ConfigFile, ...]:
    return tuple(
        ConfigFile(
            path=_check_abs_path(f"config_files[{i}].path", c["path"], file=True),
            content=c["content"],
            workloads=_workloads(f"config_files[{i}].workloads", c.get("workloads"), known),
        )
        for i, c in enumerate(raw)
    )


def _check_sub_path(option: str, sub_path: str | None) -> None:
    if sub_path is not None and (sub_path.startswith("/") or ".." in sub_path.split("/")):
        raise SpecError(
            f"{option} '{sub_path}' must be a relative path inside the volume, without '..' (e.g. mp-home)"
        )


def _init_mount(
    option: str, raw: dict[str, Any], volumes: tuple[Volume, ...], workloads: tuple[str, ...]
) -> InitMount:
    """A mount of one of the app's volumes; the volume must reach every workload the init container runs in."""
    index = next((i for i, vol in enumerate(volumes) if vol.name == raw["volume"]), None)
    if index is None:
        known = ", ".join(vol.name for vol in volumes) or "none"
        raise SpecError(
            f"{option}.volume '{raw['volume']}' is not one of the app's volumes (known: {known}): "
            "declare it under volumes (empty_dir: true for a scratch directory shared with the container)"
        )
    volume = volumes[index]
    missing = [w for w in workloads if volume.workloads is not None and w not in volume.workloads]
    if missing:
        raise SpecError(
            f"{option}.volume '{volume.name}' is not mounted in workload '{missing[0]}' "
            f"(volumes[{index}].workloads): add it there, or limit the init container's workloads"
        )
    _check_sub_path(f"{option}.sub_path", raw.get("sub_path"))
    return InitMount(
        volume=volume.name,
        mount_path=_check_abs_path(f"{option}.mount_path", raw["mount_path"]),
        sub_path=raw.get("sub_path"),
        read_only=raw["read_only"] or volume.source == "secret",
    )


def _init_containers(
    raw: list[dict[str, Any]], volumes: tuple[Volume, ...], known: tuple[str, ...]
) -> tuple[InitContainer, ...]:
    """Init containers: names unique in their pods (a workload's container is named as the workload)."""
    result: list[InitContainer] = []
    for i, entry in enumerate(raw):
        option = f"init_containers[{i}]"
        container = _container(option, entry)
        if container.name in known:
            raise SpecError(
                f"{option}.name '{container.name}' is the name of a workload's container: choose another name"
            )
        if container.name.startswith(RESERVED_PREFIX):
            raise SpecError(
                f"{option}.name '{container.name}': names starting with {RESERVED_PREFIX} are the module's own"
            )
        if any(other.container.name == container.name for other in result):
            raise SpecError(
                f"{option}.name '{container.name}' is used twice: init container names must be unique"
            )
        selected = _workloads(f"{option}.workloads", entry.get("workloads"), known)
        mounts = tuple(
            _init_mount(f"{option}.volume_mounts[{j}]", m, volumes, selected or known)
            for j, m in enumerate(entry.get("volume_mounts") or [])
        )
        paths: dict[str, int] = {}
        for j, mount in enumerate(mounts):
            if mount.mount_path in paths:
                raise SpecError(
                    f"{option}.volume_mounts[{j}].mount_path '{mount.mount_path}' is also "
                    f"volume_mounts[{paths[mount.mount_path]}]: give each mount its own path"
                )
            paths[mount.mount_path] = j
        result.append(InitContainer(container=container, mounts=mounts, workloads=selected))
    return tuple(result)


def _egress(raw: dict[str, Any] | None) -> Egress | None:
    if not raw:
        return None
    rules = []
    for i, rule in enumerate(raw["allow"]):
        try:
            if "/" not in rule["cidr"]:
                raise ValueError(rule["cidr"])
            ipaddress.ip_network(rule["cidr"], strict=False)
        except ValueError:
            raise SpecError(
                f"egress.allow[{i}].cidr '{rule['cidr']}' is not a CIDR: write an address and prefix length, "
                "e.g. 10.0.0.5/32"
            ) from None
        rules.append(
            EgressRule(
                rule["cidr"],
                tuple(_port(f"egress.allow[{i}].ports", p) for p in rule["ports"]),
                rule["protocol"],
            )
        )
    return Egress(tuple(rules), raw["dns"])


def _labels(raw: dict[str, Any] | None) -> tuple[tuple[str, str], ...]:
    labels = _string_map(raw)
    for key, _value in labels:
        if key.startswith(("app.kubernetes.io/", "redundant.kube/")):
            raise SpecError(
                f"labels: '{key}' is set by the module: choose a key outside app.kubernetes.io/ and redundant.kube/"
            )
    return labels


def _active_probe(raw: dict[str, Any] | None) -> ActiveProbe | None:
    if not raw:
        return None
    return ActiveProbe(
        type=raw["type"],
        key=raw["key"],
        value=raw["value"],
        command=tuple(raw.get("command") or ()),
        path=raw["path"],
        port=raw.get("port"),
        scheme=raw["scheme"],
        via=raw.get("via") or "pod_ip",
    )


def parse_spec(params: dict[str, Any]) -> AppSpec:
    """Validated module parameters -> AppSpec, or SpecError naming the offending option."""
    _check_basics(params)
    name, topology = params["name"], params["topology"]
    server = _container("server", params["server"])
    companions = tuple(
        _container(f"companions[{i}]", c) for i, c in enumerate(params.get("companions") or [])
    )
    if companions and topology == "cluster":
        raise SpecError(
            "companions need topology pair or single (a cluster member has no single server to pin to)"
        )
    per_side = _per_side(params, topology)
    known = _workload_names(name, topology, server, companions, per_side)
    external = tuple(
        m
        for m in (
            _external_mount("keystore", params.get("keystore"), known),
            _external_mount("license", params.get("license"), known),
        )
        if m
    )
    services = _services(name, params.get("services") or [], topology, known)
    volumes = _volumes(params.get("volumes") or [], known)
    spec = AppSpec(
        name=name,
        namespace=params["namespace"],
        topology=topology,
        topology_key=params["topology_key"],
        replicas=params["replicas"] if topology == "cluster" else 1,
        server=server,
        companions=companions,
        per_side=per_side,
        init_containers=_init_containers(params.get("init_containers") or [], volumes, known),
        volumes=volumes,
        config_files=_config_files(params.get("config_files") or [], known),
        odbc=_odbc(params.get("odbc"), known),
        env_from_secrets=tuple(params.get("env_from_secrets") or ()),
        services=services,
        egress=_egress(params.get("egress")),
        external_mounts=external,
        core_dumps=_core_dumps(params.get("core_dumps"), known),
        active_probe=_active_probe(params.get("active_probe")),
        node_selector=_string_map(params.get("node_selector")),
        tolerations=tuple(params.get("tolerations") or ()),
        failover_toleration_seconds=params["failover_toleration_seconds"],
        priority_class=params.get("priority_class"),
        image_pull_secrets=tuple(params.get("image_pull_secrets") or ()),
        labels=_labels(params.get("labels")),
        annotations=_string_map(params.get("annotations")),
        ingress=_ingress(params.get("ingress"), services, name),
        member_id_env=params["member_id_env"],
        side_env=params["side_env"],
        workload_names=known,
    )
    _check_mount_paths(spec)
    return spec


def spec_from_user_params(raw: dict[str, Any]) -> AppSpec:
    """Parameters as a user writes them (no defaults) -> AppSpec: argument_spec validation, then parse_spec."""
    return parse_spec(validate_params(raw))


__all__ = [
    "APP_ARGUMENT_SPEC",
    "AppSpec",
    "SpecError",
    "parse_quantity",
    "parse_spec",
    "spec_from_user_params",
]
