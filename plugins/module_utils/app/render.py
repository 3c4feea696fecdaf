# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AppSpec -> Kubernetes manifests. Pure: no I/O, same input gives the same objects in the same order.

Topologies:
- pair:    one Deployment per workload and side (server, companions, per-side singletons); servers A and B
           with required anti-affinity on topology_key, everything else with required affinity to its
           side's server on the same node; a PodDisruptionBudget keeping one server up.
- single:  one Deployment per workload, Recreate, failover tolerations; companions beside the server.
- cluster: a StatefulSet with a headless Service, member identity from the pod name, spread on topology_key.
"""

from __future__ import annotations

import copy
import hashlib
import json
import posixpath
import re
from dataclasses import dataclass
from typing import Any

from ansible_collections.redundant.kube.plugins.module_utils.app.spec import (
    SERVER,
    AppSpec,
    Container,
    InitContainer,
    Probe,
    SpecError,
    Volume,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.objects import (
    ANNOTATION_ACTIVE_PROBE,
    ANNOTATION_TOPOLOGY,
    ANNOTATION_TOPOLOGY_KEY,
    HOSTNAME_KEY,
    LABEL_COMPONENT,
    LABEL_INSTANCE,
    LABEL_INSTANCE_NUMBER,
    LABEL_MANAGED_BY,
    LABEL_ROLE,
    LABEL_SIDE,
    LABEL_WORKLOAD_KIND,
    MANAGED_BY,
    checksum_annotation_key,
    content_digest,
)

POD_NAME_ENV = "REDUNDANT_KUBE_POD_NAME"
SIDE_NAMES = {"a": "A", "b": "B"}

# Apply order: what others refer to comes first.
KIND_ORDER = (
    "Namespace",
    "ConfigMap",
    "Secret",
    "PersistentVolumeClaim",
    "Service",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "Deployment",
    "StatefulSet",
    "Ingress",
)
API_VERSIONS = {
    "Namespace": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "PersistentVolumeClaim": "v1",
    "Service": "v1",
    "NetworkPolicy": "networking.k8s.io/v1",
    "PodDisruptionBudget": "policy/v1",
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "Ingress": "networking.k8s.io/v1",
}
FAILOVER_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
NGINX = "nginx.ingress.kubernetes.io"


@dataclass(frozen=True)
class Workload:
    """One Deployment or StatefulSet: a container on one side (or the only side)."""

    name: str  # the container's name: server, a companion or a per-side singleton
    kind: str  # server | companion | per-side
    container: Container
    side: str | None
    instance: int | None = None
    role: str | None = None
    instance_env: str | None = None


def external_key(kind: str, name: str) -> str:
    """Key of `external_digests` for a Secret/ConfigMap the app mounts but does not own."""
    return f"{kind}/{name}"


def dns_label(text: str, limit: int = 63) -> str:
    """A DNS label from free text; cut to `limit` with a stable hash suffix when too long."""
    label = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if len(label) > limit:
        label = label[: limit - 9].rstrip("-") + "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return label


def object_name(spec: AppSpec, workload: str, side: str | None) -> str:
    return f"{spec.name}-{workload}-{side}" if side else f"{spec.name}-{workload}"


def headless_service_name(spec: AppSpec) -> str:
    return f"{spec.name}-members"


def claim_name(spec: AppSpec, volume: Volume, workload: str, side: str | None) -> str:
    """PVC name: one per side (or per app) when the access mode lets pods share it, else one per workload."""
    base = f"{spec.name}-{volume.name}" if volume.shared else f"{spec.name}-{volume.name}-{workload}"
    return f"{base}-{side}" if side else base


def config_map_name(spec: AppSpec, path: str) -> str:
    return dns_label(f"{spec.name}-cfg-{path}", 253)


def workloads(spec: AppSpec) -> list[Workload]:
    """Every Deployment/StatefulSet of the app, in render order."""
    result = []
    for side in spec.sides:
        result.append(Workload(spec.server.name, "server", spec.server, side))
    for comp in spec.companions:
        for side in spec.sides:
            result.append(Workload(comp.name, "companion", comp, side))
    for single in spec.per_side:
        instances, roles = dict(single.instances), dict(single.roles)
        for side in spec.sides:
            result.append(
                Workload(
                    single.container.name,
                    "per-side",
                    single.container,
                    side,
                    instances[side],
                    roles[side],
                    single.instance_env,
                )
            )
    return result


def _applies(workload_names: tuple[str, ...] | None, workload: str) -> bool:
    return workload_names is None or workload in workload_names


def _meta(spec: AppSpec, kind: str, name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if kind != "Namespace":
        meta["namespace"] = spec.namespace
        meta["labels"] = {**common_labels(spec), **(labels or {}), **dict(spec.labels)}
        if spec.annotations:
            meta["annotations"] = dict(spec.annotations)
    return {"apiVersion": API_VERSIONS[kind], "kind": kind, "metadata": meta}


def common_labels(spec: AppSpec) -> dict[str, str]:
    return {LABEL_MANAGED_BY: MANAGED_BY, LABEL_INSTANCE: spec.name}


def selector_labels(spec: AppSpec, workload: str, side: str | None) -> dict[str, str]:
    labels = {LABEL_INSTANCE: spec.name, LABEL_COMPONENT: workload}
    if side:
        labels[LABEL_SIDE] = side
    return labels


def _probe(probe: Probe) -> dict[str, Any]:
    if probe.handler == "exec":
        body: dict[str, Any] = {"exec": {"command": list(probe.command)}}
    elif probe.handler == "httpGet":
        body = {"httpGet": {"path": probe.path, "port": probe.port, "scheme": probe.scheme}}
    else:
        body = {"tcpSocket": {"port": probe.port}}
    body.update(dict(probe.timing))
    return body


def _config_maps(spec: AppSpec) -> list[dict[str, Any]]:
    maps = []
    names: dict[str, str] = {}
    for i, cfg in enumerate(spec.config_files):
        name = config_map_name(spec, cfg.path)
        if name in names:
            raise SpecError(
                f"config_files[{i}].path '{cfg.path}' gives the same object name as '{names[name]}': rename one"
            )
        names[name] = cfg.path
        obj = _meta(spec, "ConfigMap", name)
        obj["data"] = {posixpath.basename(cfg.path): cfg.content}
        maps.append(obj)
    if spec.odbc:
        obj = _meta(spec, "ConfigMap", f"{spec.name}-odbc")
        obj["data"] = {posixpath.basename(spec.odbc.path): render_odbc_ini(spec)}
        maps.append(obj)
    return maps


def render_odbc_ini(spec: AppSpec) -> str:
    """odbc.ini text: one section per DSN, keepalive defaults already merged in by the spec (odbc is set)."""
    sections = []
    for dsn, settings in spec.odbc.dsns:
        lines = [f"[{dsn}]"] + [f"{key} = {value}" for key, value in settings]
        sections.append("\n".join(lines))
    return "\n\n".join(sections) + "\n"


def _claims(spec: AppSpec) -> list[dict[str, Any]]:
    """Standalone PVCs (cluster members with per-member storage get volumeClaimTemplates instead)."""
    claims: dict[str, dict[str, Any]] = {}
    for vol in spec.volumes:
        if vol.source != "claim" or (
            spec.topology == "cluster" and vol.access_mode in ("ReadWriteOnce", "ReadWriteOncePod")
        ):
            continue
        for wl in workloads(spec):
            if not _applies(vol.workloads, wl.name):
                continue
            name = claim_name(spec, vol, wl.name, wl.side)
            if name not in claims:
                labels = {LABEL_SIDE: wl.side} if wl.side else {}
                if not vol.shared:
                    labels[LABEL_COMPONENT] = wl.name
                claims[name] = {
                    **_meta(spec, "PersistentVolumeClaim", name, labels),
                    "spec": _claim_spec(vol),
                }
    return list(claims.values())


def _claim_spec(vol: Volume) -> dict[str, Any]:
    body: dict[str, Any] = {
        "accessModes": [vol.access_mode],
        "resources": {"requests": {"storage": vol.size}},
    }
    if vol.storage_class:
        body["storageClassName"] = vol.storage_class
    return body


def _process(c: Container, env: list[dict[str, Any]]) -> dict[str, Any]:
    """What a workload's container and an init container both say: image, command, environment, resources and
    security context (the spec's capabilities and privilege merged in)."""
    body: dict[str, Any] = {"name": c.name, "image": c.image, "imagePullPolicy": c.image_pull_policy}
    if c.command:
        body["command"] = list(c.command)
    if c.args:
        body["args"] = list(c.args)
    if env:
        body["env"] = env
    if c.resources:
        body["resources"] = c.resources
    security = dict(c.security_context or {})
    if c.capabilities:
        caps = dict(security.get("capabilities") or {})
        caps["add"] = sorted(set(caps.get("add") or []) | set(c.capabilities))
        security["capabilities"] = caps
    if c.privileged:
        security["privileged"] = True
    if security:
        body["securityContext"] = security
    return body


class _PodBuilder:
    """Volumes, mounts, environment and checksum annotations of one workload's pod template."""

    def __init__(
        self, spec: AppSpec, wl: Workload, digests: dict[str, str], owned: dict[str, dict[str, Any]]
    ):
        self.spec, self.wl, self.digests, self.owned = spec, wl, digests, owned
        self.volumes: list[dict[str, Any]] = []
        self.mounts: list[dict[str, Any]] = []
        self.checksums: dict[str, str] = {}
        self.env: list[dict[str, Any]] = []
        self.init_containers: list[dict[str, Any]] = []  # the module's own, before the user's

    def track(self, kind: str, name: str) -> None:
        """Annotate the pod with the content digest of a ConfigMap/Secret it uses."""
        owned = self.owned.get(f"{kind}/{name}")
        digest = content_digest(owned) if owned is not None else self.digests.get(external_key(kind, name))
        if digest:  # external objects have no digest when rendering offline
            self.checksums[checksum_annotation_key(kind, name)] = digest

    def build(self) -> dict[str, Any]:
        spec, wl = self.spec, self.wl
        for vol in spec.volumes:
            if _applies(vol.workloads, wl.name):
                self._volume(vol)
        for cfg in spec.config_files:
            if _applies(cfg.workloads, wl.name):
                name = config_map_name(spec, cfg.path)
                self._config_file("rk-" + name.removeprefix(f"{spec.name}-"), "ConfigMap", name, cfg.path)
        if spec.odbc and _applies(spec.odbc.workloads, wl.name):
            self._odbc_ini()
        for mount in spec.external_mounts:
            if _applies(mount.workloads, wl.name):
                source = (
                    {"secret": {"secretName": mount.name}}
                    if mount.kind == "Secret"
                    else {"configMap": {"name": mount.name}}
                )
                self.volumes.append({"name": f"rk-{mount.option}", **source})
                entry = {"name": f"rk-{mount.option}", "mountPath": mount.mount_path, "readOnly": True}
                if mount.key:
                    entry["subPath"] = mount.key
                self.mounts.append(entry)
                self.track(mount.kind, mount.name)
        if spec.core_dumps and _applies(spec.core_dumps.workloads, wl.name):
            # The kernel resolves an absolute core_pattern inside the crashing container: the directory
            # must exist there. One sub-directory per pod keeps cores of equal PIDs apart.
            self.volumes.append(
                {
                    "name": "rk-core-dumps",
                    "hostPath": {"path": spec.core_dumps.host_path, "type": "DirectoryOrCreate"},
                }
            )
            self.mounts.append(
                {
                    "name": "rk-core-dumps",
                    "mountPath": spec.core_dumps.directory,
                    "subPathExpr": f"$({POD_NAME_ENV})",
                }
            )
            self.env.insert(
                0, {"name": POD_NAME_ENV, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
            )
        for device in wl.container.devices:
            name = "rk-dev-" + dns_label(device, 56)
            self.volumes.append({"name": name, "hostPath": {"path": device, "type": "CharDevice"}})
            self.mounts.append({"name": name, "mountPath": device})
        for secret in spec.env_from_secrets:
            self.track("Secret", secret)
        return self._pod_template()

    def _volume(self, vol: Volume) -> None:
        spec, wl = self.spec, self.wl
        if vol.source == "claim":
            if spec.topology == "cluster" and vol.access_mode in ("ReadWriteOnce", "ReadWriteOncePod"):
                source = None  # a volumeClaimTemplate of the same name provides it
            else:
                source = {"persistentVolumeClaim": {"claimName": claim_name(spec, vol, wl.name, wl.side)}}
        elif vol.source == "nfs":
            source = {"nfs": {"server": vol.nfs_server, "path": vol.nfs_path}}
        elif vol.source == "host_path":
            source = {"hostPath": {"path": vol.host_path, "type": vol.host_path_type}}
        elif vol.source == "secret":
            source = {"secret": {"secretName": vol.secret}}
            self.track("Secret", vol.secret)
        else:
            source = {"emptyDir": {}}
        if source is not None:
            self.volumes.append({"name": vol.name, **source})
        mount: dict[str, Any] = {"name": vol.name, "mountPath": vol.mount_path}
        if vol.sub_path:
            mount["subPath"] = vol.sub_path
        if vol.read_only:
            mount["readOnly"] = True
        self.mounts.append(mount)

    def _config_file(self, volume: str, kind: str, name: str, path: str) -> None:
        self.volumes.append({"name": dns_label(volume), "configMap": {"name": name}})
        # subPath mounts exactly one file, leaving the rest of the directory as the image has it.
        self.mounts.append(
            {
                "name": dns_label(volume),
                "mountPath": path,
                "subPath": posixpath.basename(path),
                "readOnly": True,
            }
        )
        self.track(kind, name)

    def _odbc_ini(self) -> None:
        """odbc.ini as a writable file at odbc.path. unixODBC reads the file ODBCINI names only when it can open it
        for appending (it would create it otherwise), so from a read-only ConfigMap mount the driver gets none of
        the DSN's settings. An init container of the workload's own image, user and security context copies the
        rendered file into an emptyDir; the container mounts that copy."""
        spec, c = self.spec, self.wl.container
        config_map, file = f"{spec.name}-odbc", posixpath.basename(spec.odbc.path)
        self.volumes += [
            {"name": "rk-odbc", "configMap": {"name": config_map}},
            {"name": "rk-odbc-copy", "emptyDir": {}},
        ]
        self.mounts.append({"name": "rk-odbc-copy", "mountPath": spec.odbc.path, "subPath": file})
        init: dict[str, Any] = {
            "name": "rk-odbc-ini",
            "image": c.image,
            "imagePullPolicy": c.image_pull_policy,
            "command": ["cp", f"/rk-odbc/{file}", f"/rk-odbc-copy/{file}"],
        }
        # Copies, not the container's own dicts: one manifest must not share objects between two places.
        if c.resources:  # the pod's requests stay the container's
            init["resources"] = copy.deepcopy(c.resources)
        if c.security_context:
            init["securityContext"] = copy.deepcopy(c.security_context)
        init["volumeMounts"] = [
            {"name": "rk-odbc", "mountPath": "/rk-odbc", "readOnly": True},
            {"name": "rk-odbc-copy", "mountPath": "/rk-odbc-copy"},
        ]
        self.init_containers.append(init)
        self.track("ConfigMap", config_map)
        self.env.append({"name": "ODBCINI", "value": spec.odbc.path})

    def _identity_env(self) -> list[dict[str, Any]]:
        """Which side, instance or member this pod is: for the container and its init containers alike."""
        spec, wl = self.spec, self.wl
        identity = []
        if wl.side:
            identity.append({"name": spec.side_env, "value": wl.side})
        if wl.instance is not None and wl.instance_env:
            identity.append({"name": wl.instance_env, "value": str(wl.instance)})
        if spec.topology == "cluster":
            identity.append(
                {"name": spec.member_id_env, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
            )
        return identity

    @staticmethod
    def _with_user_env(
        injected: list[dict[str, Any]], env: tuple[tuple[str, str], ...]
    ) -> list[dict[str, Any]]:
        user = [{"name": k, "value": v} for k, v in env]
        user_names = {e["name"] for e in user}
        # Injected first, so user values may refer to them as $(NAME); a user value of the same name wins.
        return [e for e in injected if e["name"] not in user_names] + user

    def _env(self) -> list[dict[str, Any]]:
        return self._with_user_env(self.env + self._identity_env(), self.wl.container.env)

    def _init_container(self, init: InitContainer) -> dict[str, Any]:
        body = _process(init.container, self._with_user_env(self._identity_env(), init.container.env))
        mounts = []
        for mount in init.mounts:
            entry: dict[str, Any] = {"name": mount.volume, "mountPath": mount.mount_path}
            if mount.sub_path:
                entry["subPath"] = mount.sub_path
            if mount.read_only:
                entry["readOnly"] = True
            mounts.append(entry)
        if mounts:
            body["volumeMounts"] = mounts
        return body

    def _container(self) -> dict[str, Any]:
        c = self.wl.container
        body = _process(c, self._env())
        if self.spec.env_from_secrets:
            body["envFrom"] = [{"secretRef": {"name": s}} for s in self.spec.env_from_secrets]
        if c.ports:
            body["ports"] = [
                {"name": p.name, "containerPort": p.container_port, "protocol": p.protocol} for p in c.ports
            ]
        for attr, key in (
            ("liveness_probe", "livenessProbe"),
            ("readiness_probe", "readinessProbe"),
            ("startup_probe", "startupProbe"),
        ):
            probe = getattr(c, attr)
            if probe:
                body[key] = _probe(probe)
        if self.mounts:
            body["volumeMounts"] = self.mounts
        return body

    def _affinity(self) -> dict[str, Any] | None:
        spec, wl = self.spec, self.wl
        if spec.topology == "cluster":
            return None
        if wl.kind == "server":
            if spec.topology != "pair":
                return None
            other = "b" if wl.side == "a" else "a"
            return {
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "labelSelector": {"matchLabels": selector_labels(spec, spec.server.name, other)},
                            "topologyKey": spec.topology_key,
                        }
                    ]
                }
            }
        # Companions and per-side singletons live on their server's node: they share its volumes and host.
        return {
            "podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "labelSelector": {"matchLabels": selector_labels(spec, spec.server.name, wl.side)},
                        "topologyKey": HOSTNAME_KEY,
                    }
                ]
            }
        }

    def _tolerations(self) -> list[dict[str, Any]]:
        spec = self.spec
        tolerations = list(spec.tolerations)
        # Kubernetes' default 300 s before pods leave a dead node is most of a single instance's outage,
        # and five minutes without redundancy for a pair or cluster: every topology fails over sooner.
        set_keys = {t.get("key") for t in tolerations}
        tolerations += [
            {
                "key": key,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": spec.failover_toleration_seconds,
            }
            for key in FAILOVER_TAINTS
            if key not in set_keys
        ]
        return tolerations

    def _pod_template(self) -> dict[str, Any]:
        spec, wl = self.spec, self.wl
        labels = {
            **common_labels(spec),
            **selector_labels(spec, wl.name, wl.side),
            LABEL_WORKLOAD_KIND: wl.kind,
        }
        if wl.role:
            labels[LABEL_ROLE] = wl.role
        if wl.instance is not None:
            labels[LABEL_INSTANCE_NUMBER] = str(wl.instance)
        labels.update(dict(spec.labels))
        annotations = {**dict(spec.annotations), **dict(sorted(self.checksums.items()))}
        pod: dict[str, Any] = {"containers": [self._container()]}
        init_containers = self.init_containers + [
            self._init_container(init) for init in spec.init_containers if _applies(init.workloads, wl.name)
        ]
        if init_containers:
            pod["initContainers"] = init_containers
        affinity = self._affinity()
        if affinity:
            pod["affinity"] = affinity
        if spec.topology == "cluster":
            pod["topologySpreadConstraints"] = [
                {
                    "maxSkew": 1,
                    "topologyKey": spec.topology_key,
                    "whenUnsatisfiable": "DoNotSchedule",
                    # A cordoned (tainted) node must not count as a domain, or a member could not
                    # leave a drained node of a cluster as large as the node count.
                    "nodeTaintsPolicy": "Honor",
                    "labelSelector": {"matchLabels": selector_labels(spec, wl.name, None)},
                }
            ]
        if spec.node_selector:
            pod["nodeSelector"] = dict(spec.node_selector)
        tolerations = self._tolerations()
        if tolerations:
            pod["tolerations"] = tolerations
        if spec.priority_class:
            pod["priorityClassName"] = spec.priority_class
        if spec.image_pull_secrets:
            pod["imagePullSecrets"] = [{"name": s} for s in spec.image_pull_secrets]
        if self.volumes:
            pod["volumes"] = self.volumes
        metadata: dict[str, Any] = {"labels": labels}
        if annotations:
            metadata["annotations"] = annotations
        return {"metadata": metadata, "spec": pod}


def _workload_annotations(spec: AppSpec, wl: Workload) -> dict[str, str]:
    annotations = {ANNOTATION_TOPOLOGY: spec.topology, ANNOTATION_TOPOLOGY_KEY: spec.topology_key}
    if spec.active_probe and wl.kind == "server":
        probe = spec.active_probe
        recorded = {
            "type": probe.type,
            "key": probe.key,
            "value": probe.value,
            "command": list(probe.command),
            "path": probe.path,
            "port": probe.port,
            "scheme": probe.scheme,
        }
        if probe.via != "pod_ip":  # the default is left out, so workloads recorded before it stay unchanged
            recorded["via"] = probe.via
        annotations[ANNOTATION_ACTIVE_PROBE] = json.dumps(recorded, sort_keys=True)
    return annotations


def _workload_object(spec: AppSpec, wl: Workload, template: dict[str, Any]) -> dict[str, Any]:
    labels = {
        LABEL_COMPONENT: wl.name,
        LABEL_WORKLOAD_KIND: wl.kind,
        **({LABEL_SIDE: wl.side} if wl.side else {}),
    }
    name = object_name(spec, wl.name, wl.side)
    kind = "StatefulSet" if spec.topology == "cluster" else "Deployment"
    obj = _meta(spec, kind, name, labels)
    obj["metadata"]["annotations"] = {
        **obj["metadata"].get("annotations", {}),
        **_workload_annotations(spec, wl),
    }
    if spec.topology == "cluster":
        body: dict[str, Any] = {
            "replicas": spec.replicas,
            "serviceName": headless_service_name(spec),
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": selector_labels(spec, wl.name, None)},
            "template": template,
        }
        templates = [
            {
                "metadata": {"name": vol.name, "labels": {**common_labels(spec), LABEL_COMPONENT: wl.name}},
                "spec": _claim_spec(vol),
            }
            for vol in spec.volumes
            if vol.source == "claim" and vol.access_mode in ("ReadWriteOnce", "ReadWriteOncePod")
        ]
        if templates:
            body["volumeClaimTemplates"] = templates
        obj["spec"] = body
        return obj
    obj["spec"] = {
        "replicas": 1,
        # Never two copies of one side's process: the old pod goes before the new one starts.
        "strategy": {"type": "Recreate"},
        "selector": {"matchLabels": selector_labels(spec, wl.name, wl.side)},
        "template": template,
    }
    return obj


def _services(spec: AppSpec) -> list[dict[str, Any]]:
    objects = []
    if spec.topology == "cluster":
        obj = _meta(spec, "Service", headless_service_name(spec), {LABEL_COMPONENT: spec.server.name})
        body: dict[str, Any] = {
            "clusterIP": "None",
            # Members must find each other while starting, before they are Ready.
            "publishNotReadyAddresses": True,
            "selector": selector_labels(spec, spec.server.name, None),
        }
        if spec.server.ports:
            body["ports"] = [
                {
                    "name": p.name,
                    "port": p.container_port,
                    "targetPort": p.container_port,
                    "protocol": p.protocol,
                }
                for p in spec.server.ports
            ]
        obj["spec"] = body
        objects.append(obj)
    for svc in spec.services:
        for side in spec.sides if svc.per_side else (None,):
            name = f"{svc.name}-{side}" if side else svc.name
            obj = _meta(
                spec, "Service", name, {LABEL_COMPONENT: svc.workload, **({LABEL_SIDE: side} if side else {})}
            )
            ports = []
            for p in svc.ports:
                port: dict[str, Any] = {
                    "name": p.name,
                    "port": p.port,
                    "targetPort": p.target_port,
                    "protocol": p.protocol,
                }
                if p.node_port:
                    port["nodePort"] = p.node_port
                ports.append(port)
            body = {"type": svc.type, "selector": selector_labels(spec, svc.workload, side), "ports": ports}
            if svc.session_affinity:
                body["sessionAffinity"] = "ClientIP"
                body["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": svc.session_affinity_timeout}}
            obj["spec"] = body
            objects.append(obj)
    return objects


def _network_policy(spec: AppSpec) -> list[dict[str, Any]]:
    if not spec.egress:
        return []
    obj = _meta(spec, "NetworkPolicy", f"{spec.name}-egress")
    # The app's own pods always reach each other (server A <-> B, companions -> server).
    rules: list[dict[str, Any]] = [{"to": [{"podSelector": {"matchLabels": {LABEL_INSTANCE: spec.name}}}]}]
    if spec.egress.dns:
        rules.append({"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]})
    for rule in spec.egress.allow:
        entry: dict[str, Any] = {"to": [{"ipBlock": {"cidr": rule.cidr}}]}
        if rule.ports:
            entry["ports"] = [{"protocol": rule.protocol, "port": p} for p in rule.ports]
        rules.append(entry)
    obj["spec"] = {
        "podSelector": {"matchLabels": {LABEL_INSTANCE: spec.name}},
        "policyTypes": ["Egress"],
        "egress": rules,
    }
    return [obj]


def _disruption_budget(spec: AppSpec) -> list[dict[str, Any]]:
    if spec.topology == "pair":
        # A drain may take one side, never both: one server must stay available.
        obj = _meta(spec, "PodDisruptionBudget", f"{spec.name}-{SERVER}", {LABEL_COMPONENT: spec.server.name})
        obj["spec"] = {
            "minAvailable": 1,
            "selector": {"matchLabels": selector_labels(spec, spec.server.name, None)},
        }
        return [obj]
    if spec.topology == "cluster" and spec.replicas > 1:
        obj = _meta(spec, "PodDisruptionBudget", spec.name, {LABEL_COMPONENT: spec.server.name})
        obj["spec"] = {
            "maxUnavailable": 1,
            "selector": {"matchLabels": selector_labels(spec, spec.server.name, None)},
        }
        return [obj]
    return []


def _ingress(spec: AppSpec) -> list[dict[str, Any]]:
    ing = spec.ingress
    if not ing:
        return []
    obj = _meta(spec, "Ingress", spec.name)
    if ing.cookie_affinity:
        # ingress-nginx pins a browser to one pod with a cookie, as a clustered web app with
        # node-local sessions needs.
        obj["metadata"]["annotations"] = {
            **obj["metadata"].get("annotations", {}),
            f"{NGINX}/affinity": "cookie",
            f"{NGINX}/session-cookie-name": ing.cookie_name,
            f"{NGINX}/session-cookie-expires": str(ing.cookie_max_age),
            f"{NGINX}/session-cookie-max-age": str(ing.cookie_max_age),
        }
    port = {"number": ing.port} if isinstance(ing.port, int) else {"name": ing.port}
    body: dict[str, Any] = {}
    if ing.class_name:
        body["ingressClassName"] = ing.class_name
    if ing.tls_secret:
        body["tls"] = [{"hosts": [ing.host], "secretName": ing.tls_secret}]
    body["rules"] = [
        {
            "host": ing.host,
            "http": {
                "paths": [
                    {
                        "path": path,
                        "pathType": "Prefix",
                        "backend": {"service": {"name": ing.service, "port": port}},
                    }
                    for path in ing.paths
                ]
            },
        }
    ]
    obj["spec"] = body
    return [obj]


def render_app(spec: AppSpec, external_digests: dict[str, str]) -> list[dict[str, Any]]:
    """Every object of the app, in apply order. `external_digests` maps external_key(kind, name) of
    objects owned by other modules (keystore, license, env Secrets) to their live content_digest."""
    config_maps = _config_maps(spec)
    owned = {f"{o['kind']}/{o['metadata']['name']}": o for o in config_maps}
    workload_objects = [
        _workload_object(spec, wl, _PodBuilder(spec, wl, external_digests, owned).build())
        for wl in workloads(spec)
    ]
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": spec.namespace}},
        *config_maps,
        *_claims(spec),
        *_services(spec),
        *_network_policy(spec),
        *_disruption_budget(spec),
        *workload_objects,
        *_ingress(spec),
    ]
    order = {kind: i for i, kind in enumerate(KIND_ORDER)}
    return sorted(objects, key=lambda o: order[o["kind"]])  # stable: keeps render order within a kind


def external_objects(spec: AppSpec) -> list[tuple[str, str]]:
    """(kind, name) of every Secret/ConfigMap the app uses but does not own: the module reads their digests."""
    found = (
        [(m.kind, m.name) for m in spec.external_mounts]
        + [("Secret", v.secret) for v in spec.volumes if v.source == "secret"]
        + [("Secret", s) for s in spec.env_from_secrets]
    )
    return list(dict.fromkeys(found))
