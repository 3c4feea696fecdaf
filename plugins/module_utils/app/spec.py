# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate the parameters of redundant.kube.app and normalise them into frozen dataclasses.

Input is the parameter dict as Ansible hands it to a module (defaults filled in by the argument_spec in
argspec.py). Every rule the argument_spec cannot express is checked here, and every error is a
`SpecError` whose message names the option and says how to fix it, before anything reaches a cluster.
"""

from __future__ import annotations

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


class SpecError(ValueError):
    """An invalid application spec; str() is one line naming the option and the fix."""


SIDES = ("a", "b")
# Pod volumes the module adds itself (config files, odbc, keystore, ...) carry this prefix.
RESERVED_VOLUME_PREFIX = "rk-"
SERVER = "server"

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
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
class Volume:
    name: str
    mount_path: str
    sub_path: str | None
    read_only: bool
    source: str  # claim | nfs | host_path | empty_dir
    size: str | None = None
    storage_class: str | None = None
    access_mode: str = "ReadWriteOnce"
    nfs_server: str | None = None
    nfs_path: str | None = None
    host_path: str | None = None
    host_path_type: str = ""
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


def _check_name(option: str, value: str) -> None:
    if not _DNS_LABEL.match(value or ""):
        raise SpecError(
            f"{option} '{value}' is not a valid name: use lower-case letters, digits and '-', starting with a letter"
        )


def _check_image(option: str, image: str) -> None:
    if "@" in image:
        return
    last = image.rsplit("/", 1)[-1]
    if ":" not in last or last.endswith(":"):
        raise SpecError(f"{option} '{image}' has no tag: write {image.rstrip(':')}:<tag>")


def _check_env_name(option: str, name: str) -> None:
    if not _ENV_NAME.match(name):
        raise SpecError(f"{option}: '{name}' is not a valid environment variable name")


def _check_abs_path(option: str, path: str) -> str:
    if not path.startswith("/"):
        raise SpecError(f"{option} '{path}' must be an absolute path inside the container")
    return posixpath.normpath(path)


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


def _container(option: str, raw: dict[str, Any]) -> Container:
    _check_name(f"{option}.name", raw["name"])
    _check_image(f"{option}.image", raw["image"])
    env = []
    for key, value in (raw.get("env") or {}).items():
        _check_env_name(f"{option}.env", key)
        env.append((key, _text(value)))
    ports = []
    for i, port in enumerate(raw.get("ports") or []):
        _check_name(f"{option}.ports[{i}].name", port["name"])
        if len(port["name"]) > 15:
            raise SpecError(f"{option}.ports[{i}].name '{port['name']}' is longer than 15 characters")
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
        resources=raw.get("resources") or None,
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
    _check_name(f"{option}.name", raw["name"])
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
    if not raw.get("size"):
        raise SpecError(f"{option}: set size (a claim), nfs, host_path or empty_dir")
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
        storage_class=raw.get("storage_class"),
        access_mode=raw["access_mode"],
        **common,
    )


def _external_mount(option: str, raw: dict[str, Any] | None, known: tuple[str, ...]) -> ExternalMount | None:
    if not raw:
        return None
    kind, name = ("Secret", raw["secret"]) if raw.get("secret") else ("ConfigMap", raw.get("config_map"))
    if not name:
        raise SpecError(f"{option}: set secret or config_map (the object made by the {option} module)")
    return ExternalMount(
        option=option,
        kind=kind,
        name=name,
        mount_path=_check_abs_path(f"{option}.mount_path", raw["mount_path"]),
        key=raw.get("key"),
        workloads=_workloads(f"{option}.workloads", raw.get("workloads"), known),
    )


def _services(
    app: str, raw: list[dict[str, Any]], topology: str, known: tuple[str, ...]
) -> tuple[Service, ...]:
    services = []
    for i, svc in enumerate(raw):
        option = f"services[{i}]"
        if svc.get("name"):
            _check_name(f"{option}.name", svc["name"])
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
        path=_check_abs_path("odbc.path", raw["path"]),
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
        tls_secret=raw.get("tls_secret"),
        class_name=raw.get("class_name"),
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


def parse_spec(params: dict[str, Any]) -> AppSpec:
    """Validated module parameters -> AppSpec, or SpecError naming the offending option."""
    name = params["name"]
    _check_name("name", name)
    _check_name("namespace", params["namespace"])
    topology = params.get("topology")
    if topology not in TOPOLOGIES:
        raise SpecError(f"topology '{topology}' is unknown: use one of {', '.join(TOPOLOGIES)}")
    if not params.get("server"):
        raise SpecError("server is required: give at least server.image")
    replicas = params["replicas"]
    if replicas < 1:
        raise SpecError(f"replicas must be at least 1, got {replicas}")

    server = _container("server", params["server"])
    companions = tuple(
        _container(f"companions[{i}]", c) for i, c in enumerate(params.get("companions") or [])
    )
    per_side = tuple(
        PerSide(
            container=_container(f"per_side[{i}]", p),
            instances=tuple(sorted(p["instances"].items())),
            roles=tuple(sorted(p["roles"].items())),
            instance_env=p.get("instance_env"),
        )
        for i, p in enumerate(params.get("per_side") or [])
    )
    if companions and topology == "cluster":
        raise SpecError(
            "companions need topology pair or single (a cluster member has no single server to pin to)"
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

    names: dict[str, str] = {server.name: "server.name"}
    for option, container in [(f"companions[{i}]", c) for i, c in enumerate(companions)] + [
        (f"per_side[{i}]", p.container) for i, p in enumerate(per_side)
    ]:
        if container.name == server.name:
            raise SpecError(f"{option}.name '{container.name}' is the server's name: choose another name")
        if container.name in names:
            raise SpecError(f"{option}.name '{container.name}' is already used by {names[container.name]}")
        names[container.name] = f"{option}.name"
    known = tuple(names)

    for workload in known:
        longest = f"{name}-{workload}-a" if topology == "pair" else f"{name}-{workload}"
        if len(longest) > _MAX_NAME - 11:  # room for the pod-template hash Kubernetes appends to pod names
            raise SpecError(
                f"name '{name}' with workload '{workload}' gives '{longest}', too long: shorten name or the workload name"
            )

    volumes = tuple(_volume(f"volumes[{i}]", v, known) for i, v in enumerate(params.get("volumes") or []))
    seen_volumes: set[str] = set()
    for i, vol in enumerate(volumes):
        if vol.name.startswith(RESERVED_VOLUME_PREFIX):
            raise SpecError(
                f"volumes[{i}].name '{vol.name}': names starting with {RESERVED_VOLUME_PREFIX} are the module's own"
            )
        if vol.name in seen_volumes:
            raise SpecError(f"volumes[{i}].name '{vol.name}' is used twice: volume names must be unique")
        seen_volumes.add(vol.name)

    config_files = tuple(
        ConfigFile(
            path=_check_abs_path(f"config_files[{i}].path", c["path"]),
            content=c["content"],
            workloads=_workloads(f"config_files[{i}].workloads", c.get("workloads"), known),
        )
        for i, c in enumerate(params.get("config_files") or [])
    )
    odbc = _odbc(params.get("odbc"), known)
    for env_name, option in ((params["member_id_env"], "member_id_env"), (params["side_env"], "side_env")):
        _check_env_name(option, env_name)

    external = tuple(
        m
        for m in (
            _external_mount("keystore", params.get("keystore"), known),
            _external_mount("license", params.get("license"), known),
        )
        if m
    )
    services = _services(name, params.get("services") or [], topology, known)
    egress = None
    if params.get("egress"):
        rules = []
        for i, rule in enumerate(params["egress"]["allow"]):
            if not re.match(r"^[0-9a-fA-F:.]+/[0-9]{1,3}$", rule["cidr"]):
                raise SpecError(
                    f"egress.allow[{i}].cidr '{rule['cidr']}' is not a CIDR: write e.g. 10.0.0.5/32"
                )
            rules.append(
                EgressRule(
                    rule["cidr"],
                    tuple(_port(f"egress.allow[{i}].ports", p) for p in rule["ports"]),
                    rule["protocol"],
                )
            )
        egress = Egress(tuple(rules), params["egress"]["dns"])

    labels = _string_map(params.get("labels"))
    for key, _value in labels:
        if key.startswith(("app.kubernetes.io/", "redundant.kube/")):
            raise SpecError(
                f"labels: '{key}' is set by the module: choose a key outside app.kubernetes.io/ and redundant.kube/"
            )

    probe = params.get("active_probe")
    active_probe = None
    if probe:
        active_probe = ActiveProbe(
            type=probe["type"],
            key=probe["key"],
            value=probe["value"],
            command=tuple(probe.get("command") or ()),
            path=probe["path"],
            port=probe.get("port"),
            scheme=probe["scheme"],
            via=probe.get("via") or "pod_ip",
        )
    if params["failover_toleration_seconds"] < 0:
        raise SpecError("failover_toleration_seconds must be 0 or more")

    spec = AppSpec(
        name=name,
        namespace=params["namespace"],
        topology=topology,
        topology_key=params["topology_key"],
        replicas=replicas if topology == "cluster" else 1,
        server=server,
        companions=companions,
        per_side=per_side,
        volumes=volumes,
        config_files=config_files,
        odbc=odbc,
        env_from_secrets=tuple(params.get("env_from_secrets") or ()),
        services=services,
        egress=egress,
        external_mounts=external,
        core_dumps=_core_dumps(params.get("core_dumps"), known),
        active_probe=active_probe,
        node_selector=_string_map(params.get("node_selector")),
        tolerations=tuple(params.get("tolerations") or ()),
        failover_toleration_seconds=params["failover_toleration_seconds"],
        priority_class=params.get("priority_class"),
        image_pull_secrets=tuple(params.get("image_pull_secrets") or ()),
        labels=labels,
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
