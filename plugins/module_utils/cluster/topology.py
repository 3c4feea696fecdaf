# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster topology rules for the k3s, kubeadm, vip and storage roles.

Pure functions: inventory groups, role variables and read-only facts go in; a list of problems (one
line each, naming the variable and the fix) or a plan comes out. The roles call them through the
filters in ``plugins/filter/topology.py`` before they change any host, so bad input fails every host of
the play at once, and the unit tests cover every rule without a host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Keys of the K3S config.yaml that the k3s role derives from the topology; user-supplied extra
# configuration must not set them, or two sources of truth would fight on every run.
K3S_MANAGED_KEYS = frozenset(
    {"token", "token-file", "agent-token", "server", "cluster-init", "datastore-endpoint", "node-name"}
)
# What turns a K3S server into an etcd-only member (no API server, controller manager, scheduler):
# the witness that gives two full servers an odd etcd member count.
K3S_ETCD_ONLY = {"disable-apiserver": True, "disable-controller-manager": True, "disable-scheduler": True}
K3S_API_PORT = 6443


def _names(hosts: Iterable[str] | None) -> list[str]:
    return list(dict.fromkeys(hosts or ()))


def _overlaps(groups: Mapping[str, Sequence[str]]) -> list[str]:
    """One problem per host that appears in more than one of the named groups."""
    seen: dict[str, list[str]] = {}
    for variable, hosts in groups.items():
        for host in hosts:
            seen.setdefault(host, []).append(variable)
    return [
        f"{host} is in more than one group ({', '.join(variables)}): a host has exactly one role, "
        "remove it from all but one"
        for host, variables in seen.items()
        if len(variables) > 1
    ]


def _bootstrap_choice(members: Sequence[str], existing: Sequence[str], preferred: str | None) -> str:
    """The member the others join: one that already holds the cluster (``preferred`` if it is one of
    them), and only on a fresh inventory ``preferred`` or the first member."""
    if existing:
        return preferred if preferred in existing else existing[0]
    return preferred or members[0]


def k3s_topology_problems(
    servers: Sequence[str],
    agents: Sequence[str] = (),
    witnesses: Sequence[str] = (),
    *,
    datastore_endpoint: bool = False,
    join_url: str | None = None,
    token_given: bool = False,
    server_config: Mapping[str, Any] | None = None,
    agent_config: Mapping[str, Any] | None = None,
) -> list[str]:
    """Every reason the K3S topology cannot work, before any host is touched.

    ``servers``/``agents``/``witnesses`` are the inventory hostnames of the groups named by
    ``k3s_servers_group``/``k3s_agents_group``/``k3s_witnesses_group``; ``datastore_endpoint`` says
    whether ``k3s_datastore_endpoint`` is set; ``join_url`` is ``k3s_join_url`` (a cluster that
    exists outside this inventory) and ``token_given`` whether ``k3s_token`` is set.
    """
    servers, agents, witnesses = _names(servers), _names(agents), _names(witnesses)
    problems = _overlaps(
        {"k3s_servers_group": servers, "k3s_agents_group": agents, "k3s_witnesses_group": witnesses}
    )
    for variable, config in (("k3s_server_config", server_config), ("k3s_agent_config", agent_config)):
        for key in sorted(K3S_MANAGED_KEYS & set(config or {})):
            problems.append(
                f"{variable} sets '{key}', which the k3s role derives from the topology: remove it "
                "(use k3s_token, k3s_api_endpoint, k3s_datastore_endpoint or k3s_node_name instead)"
            )
    if join_url:
        if not token_given:
            problems.append(
                f"k3s_join_url is {join_url} (a cluster outside this inventory) but k3s_token is not set: "
                "a join without the cluster's token would fail or, on a server, start a second cluster; "
                "set k3s_token to the token of that cluster (from a vault)"
            )
        return problems
    if not servers:
        if agents or witnesses:
            problems.append(
                "the group named by k3s_servers_group has no hosts and k3s_join_url is not set: agents and "
                "witnesses need a server to join; add servers or set k3s_join_url and k3s_token"
            )
        return problems
    if datastore_endpoint:
        if witnesses:
            problems.append(
                f"k3s_datastore_endpoint is set and the group named by k3s_witnesses_group has {', '.join(witnesses)}: "
                "an etcd witness only exists with embedded etcd; empty that group or unset k3s_datastore_endpoint"
            )
        return problems
    members = len(servers) + len(witnesses)
    if len(servers) == 2 and not witnesses:
        problems.append(
            f"2 K3S servers ({', '.join(servers)}) with embedded etcd and no witness: two etcd members lose "
            "quorum when either stops, so this is not HA; set k3s_datastore_endpoint to an external datastore "
            "(the ha_pair role) or put one host in the group named by k3s_witnesses_group"
        )
    elif members % 2 == 0:
        problems.append(
            f"{members} embedded etcd members ({len(servers)} servers + {len(witnesses)} witnesses) is an even "
            "count, which tolerates no more failures than one member fewer and splits evenly; use 1, 3 or 5 "
            "(add or remove a host in the groups named by k3s_servers_group/k3s_witnesses_group)"
        )
    return problems


def k3s_bootstrap(
    servers: Sequence[str],
    states: Mapping[str, Mapping[str, Any]],
    preferred: str | None = None,
) -> dict[str, Any]:
    """Which server the others join, chosen from servers already in a cluster.

    ``states[host]`` is ``{"in_cluster": bool, "token_digest": str | None}`` as read (read-only) from
    each server: K3S's own server token file or the role's token file exists, and the SHA-256 of the
    token. A fresh inventory bootstraps ``preferred`` (``k3s_bootstrap_server``) or the first server;
    one that already runs keeps its cluster; servers holding different tokens are two clusters, which
    the role refuses to merge.
    """
    servers = _names(servers)
    problems: list[str] = []
    if preferred and preferred not in servers:
        problems.append(
            f"k3s_bootstrap_server is {preferred}, which is not in the group named by k3s_servers_group "
            f"({', '.join(servers)}): name one of those hosts or unset it"
        )
    in_cluster = [h for h in servers if (states.get(h) or {}).get("in_cluster")]
    digests = {(states[h] or {}).get("token_digest") for h in in_cluster} - {None}
    if len(digests) > 1:
        problems.append(
            f"servers {', '.join(in_cluster)} hold different cluster tokens, so they belong to different "
            "clusters: uninstall the ones that should join (k3s_state: absent on them) and run again"
        )
    if problems:
        return {"bootstrap": None, "existing": bool(in_cluster), "problems": problems}
    return {
        "bootstrap": _bootstrap_choice(servers, in_cluster, preferred),
        "existing": bool(in_cluster),
        "problems": [],
    }


def k3s_node_config(
    kind: str,
    *,
    node_name: str,
    token_file: str,
    bootstrap: bool = False,
    server_url: str | None = None,
    external_datastore: bool = False,
    tls_san: Sequence[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``/etc/rancher/k3s/config.yaml`` content for one node (no secrets: the token is a file and a
    datastore endpoint goes to the service's environment file).

    ``kind`` is ``server``, ``witness`` (etcd-only server) or ``agent``. With an external datastore
    every server talks to the datastore and none joins another; with embedded etcd the bootstrap server
    initialises etcd (``cluster-init``) and the others join ``server_url``.
    """
    if kind not in ("server", "witness", "agent"):
        raise ValueError(f"unknown K3S node kind {kind!r}")
    config: dict[str, Any] = {"node-name": node_name, "token-file": token_file}
    if kind == "agent":
        config["server"] = server_url
    elif external_datastore:
        pass  # the datastore endpoint joins the servers; it lives in the environment file (a secret)
    elif bootstrap:
        config["cluster-init"] = True
    else:
        config["server"] = server_url
    if kind == "witness":
        config.update(K3S_ETCD_ONLY)
    if kind != "agent" and tls_san:
        config["tls-san"] = list(dict.fromkeys(tls_san))
    for key, value in (extra or {}).items():
        if key not in K3S_MANAGED_KEYS:
            config[key] = value
    return dict(sorted(config.items()))


def kubeadm_topology_problems(
    control_planes: Sequence[str],
    workers: Sequence[str] = (),
    *,
    control_plane_endpoint: str | None = None,
    external_etcd: bool = False,
) -> list[str]:
    """Every reason the kubeadm topology cannot work. Stacked etcd runs on each control-plane node, so
    the control-plane count is the etcd member count."""
    control_planes, workers = _names(control_planes), _names(workers)
    problems = _overlaps({"kubeadm_control_plane_group": control_planes, "kubeadm_workers_group": workers})
    if not control_planes:
        problems.append(
            "the group named by kubeadm_control_plane_group has no hosts: name the group of control-plane hosts"
        )
        return problems
    if len(control_planes) > 1 and not control_plane_endpoint:
        problems.append(
            f"{len(control_planes)} control-plane nodes but kubeadm_control_plane_endpoint is not set: joins and "
            "kubeconfigs need one address for all of them; set it to the virtual IP (vip role) and port, e.g. 10.0.0.100:6443"
        )
    if not external_etcd and len(control_planes) % 2 == 0:
        problems.append(
            f"{len(control_planes)} control-plane nodes with stacked etcd is an even etcd member count, which "
            "tolerates no more failures than one fewer (2 members: none); use 1, 3 or 5 control-plane nodes or "
            "set kubeadm_external_etcd_endpoints"
        )
    return problems


def kubeadm_bootstrap(
    control_planes: Sequence[str], initialized: Mapping[str, bool], preferred: str | None = None
) -> dict[str, Any]:
    """The control-plane node that runs ``kubeadm init``: one that already holds a cluster's
    certificates and kubeconfigs if any does (never a second init), else ``preferred`` or the first."""
    control_planes = _names(control_planes)
    if preferred and preferred not in control_planes:
        return {
            "bootstrap": None,
            "existing": False,
            "problems": [
                f"kubeadm_bootstrap_node is {preferred}, which is not in the group named by "
                f"kubeadm_control_plane_group ({', '.join(control_planes)}): name one of those hosts or unset it"
            ],
        }
    done = [h for h in control_planes if initialized.get(h)]
    return {
        "bootstrap": _bootstrap_choice(control_planes, done, preferred),
        "existing": bool(done),
        "problems": [],
    }


def ipv4_networks_from_facts(facts: Mapping[str, Any]) -> list[dict[str, str]]:
    """Each interface's primary IPv4 address with its prefix, from a host's gathered facts.

    Secondary addresses are left out on purpose: a virtual IP held right now is one of them, and it
    must not make the host look like it owns the VIP's subnet on its own."""
    networks = []
    for name in facts.get("interfaces") or []:
        if name == "lo":
            continue
        ipv4 = (facts.get(name.replace("-", "_")) or facts.get(name) or {}).get("ipv4") or {}
        if ipv4.get("address") and ipv4.get("netmask"):
            interface = ipaddress.ip_interface(f"{ipv4['address']}/{ipv4['netmask']}")
            networks.append({"interface": name, "address": str(interface.ip), "cidr": str(interface)})
    return networks


def describe_networks(networks: Sequence[Mapping[str, str]]) -> str:
    """A host's IPv4 networks as a problem message names them: ``eth0 10.0.0.11/24, ...``."""
    return ", ".join(f"{n['interface']} {n['cidr']}" for n in networks) or "no IPv4 address"


def vip_plan(
    instances: Sequence[Mapping[str, Any]],
    peers: Sequence[str],
    networks: Mapping[str, Sequence[Mapping[str, str]]],
    host: str,
) -> dict[str, Any]:
    """Where each virtual IP lives on ``host`` and who its unicast VRRP peers are.

    ``instances`` are the validated ``vip_instances``; ``networks[h]`` is
    :func:`ipv4_networks_from_facts` of each peer; an instance may pin ``interface``. A VIP has to be
    inside a subnet that every peer has on one interface, or VRRP adverts and gratuitous ARP never
    reach the other side. Problems are computed over all peers, so every host of the play fails alike.
    """
    peers = _names(peers)
    problems: list[str] = []
    if host not in peers:
        problems.append(
            f"{host} runs the vip role but is not in vip_peers ({', '.join(peers)}): add it or leave it out of the play"
        )
    for field in ("name", "router_id", "address"):
        values = [i.get(field) for i in instances]
        for dup in sorted({str(v) for v in values if values.count(v) > 1}):
            problems.append(
                f"vip_instances: two instances share {field} {dup}: each VRRP instance needs its own"
            )
    own_addresses = {n["address"]: h for h in peers for n in networks.get(h, ())}
    plan: dict[str, Any] = {}
    for instance in instances:
        label = f"vip_instances[{instance.get('name')}]"
        try:
            vip = ipaddress.IPv4Address(str(instance.get("address")))
        except ValueError:
            problems.append(
                f"{label}.address {instance.get('address')!r} is not an IPv4 address: give one free address, without a prefix"
            )
            continue
        if not 1 <= int(instance.get("router_id") or 0) <= 255:
            problems.append(
                f"{label}.router_id {instance.get('router_id')} is outside 1-255: pick an id unused on this network"
            )
        if str(vip) in own_addresses:
            problems.append(
                f"{label}.address {vip} is the own address of {own_addresses[str(vip)]}: a virtual IP must be a free address"
            )
            continue
        per_host = {}
        for peer in peers:
            candidates = [
                n
                for n in networks.get(peer, ())
                if vip in ipaddress.ip_interface(n["cidr"]).network
                and (not instance.get("interface") or n["interface"] == instance["interface"])
            ]
            if not candidates:
                seen = describe_networks(networks.get(peer, ()))
                problems.append(
                    f"{label}.address {vip} is outside every IPv4 subnet of {peer} ({seen}): use a free address in a "
                    "subnet all vip_peers share on one interface"
                    + (f" (interface pinned to {instance['interface']})" if instance.get("interface") else "")
                )
                continue
            # The most specific subnet wins (a /24 beside a /8 that also contains the VIP), as in routing.
            per_host[peer] = max(
                candidates, key=lambda n: ipaddress.ip_interface(n["cidr"]).network.prefixlen
            )
        if host in per_host and len(per_host) == len(peers):
            mine = per_host[host]
            plan[instance["name"]] = {
                "interface": mine["interface"],
                "source_address": mine["address"],
                "prefix": ipaddress.ip_interface(mine["cidr"]).network.prefixlen,
                "unicast_peers": [per_host[p]["address"] for p in peers if p != host],
            }
    return {"problems": problems, "instances": plan}


def vip_priority(peers: Sequence[str], host: str, base: int = 150, step: int = 10) -> int:
    """Default VRRP priority: the first peer highest, each next one ``step`` lower (never below 1)."""
    peers = _names(peers)
    return max(1, base - step * peers.index(host)) if host in peers else 1


def storage_replica_count(requested: int | None, node_count: int) -> dict[str, Any]:
    """Replicas per volume for a replicated storage class (Longhorn): the request, or as many as
    there are storage nodes up to 3; never more than nodes, which would leave every volume degraded."""
    if node_count < 1:
        return {
            "replicas": None,
            "problems": ["storage_nodes is empty: name the hosts that hold volume replicas"],
        }
    if requested is None:
        return {"replicas": min(3, node_count), "problems": []}
    if requested < 1 or requested > node_count:
        return {
            "replicas": None,
            "problems": [
                f"storage_longhorn_replicas is {requested} but there are {node_count} storage nodes: each replica "
                f"needs its own node, so use 1 to {node_count} (a replica that cannot be placed leaves every volume degraded)"
            ],
        }
    return {"replicas": requested, "problems": []}
