# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters through which the cluster roles (k3s, kubeadm, vip, storage) reach the pure
topology rules of ``module_utils/cluster/topology.py``. Documentation: one ``<filter>.yml`` each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.redundant.kube.plugins.module_utils.cluster import topology


def k3s_topology_problems(servers: Sequence[str], **kwargs: Any) -> list[str]:
    return topology.k3s_topology_problems(servers, **kwargs)


def k3s_bootstrap(
    servers: Sequence[str], states: Mapping[str, Any], preferred: str | None = None
) -> dict[str, Any]:
    return topology.k3s_bootstrap(servers, states, preferred or None)


def k3s_node_config(kind: str, **kwargs: Any) -> dict[str, Any]:
    return topology.k3s_node_config(kind, **kwargs)


def kubeadm_topology_problems(control_planes: Sequence[str], **kwargs: Any) -> list[str]:
    return topology.kubeadm_topology_problems(control_planes, **kwargs)


def kubeadm_bootstrap(
    control_planes: Sequence[str], initialized: Mapping[str, bool], preferred: str | None = None
) -> dict[str, Any]:
    return topology.kubeadm_bootstrap(control_planes, initialized, preferred or None)


def vip_plan(
    instances: Sequence[Mapping[str, Any]], peers: Sequence[str], hostvars: Mapping[str, Any], host: str
) -> dict[str, Any]:
    """``hostvars`` is Ansible's: each peer's gathered facts give its interfaces."""
    networks = {
        peer: topology.ipv4_networks_from_facts(hostvars[peer].get("ansible_facts") or {})
        for peer in peers
        if peer in hostvars
    }
    return topology.vip_plan(instances, peers, networks, host)


def vip_priority(peers: Sequence[str], host: str) -> int:
    return topology.vip_priority(peers, host)


def storage_replica_count(requested: int | None, node_count: int) -> dict[str, Any]:
    return topology.storage_replica_count(
        None if requested in (None, "") else int(requested), int(node_count)
    )


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "k3s_topology_problems": k3s_topology_problems,
            "k3s_bootstrap": k3s_bootstrap,
            "k3s_node_config": k3s_node_config,
            "kubeadm_topology_problems": kubeadm_topology_problems,
            "kubeadm_bootstrap": kubeadm_bootstrap,
            "vip_plan": vip_plan,
            "vip_priority": vip_priority,
            "storage_replica_count": storage_replica_count,
        }
