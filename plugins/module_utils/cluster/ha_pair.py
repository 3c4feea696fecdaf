# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rules of the ha_pair role (Pacemaker + Corosync + DRBD on two nodes and a witness).

Pure functions: role variables, inventory names and read-only facts go in; problems (one line each,
naming the variable and the fix) and the plan come out. The role calls them through the filters in
``plugins/filter/ha_pair.py`` before it changes any host, so every host of the play fails alike.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.redundant.kube.plugins.module_utils.cluster.topology import describe_networks

FAILBACK_POLICIES = ("stay", "preferred")
# Pacemaker ids and the DRBD resource name end up in XML ids and file names.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")


def ha_pair_input_problems(
    nodes: Sequence[str],
    witness: str,
    play_hosts: Sequence[str],
    *,
    vip: str,
    stonith_resources: Sequence[Mapping[str, Any]] = (),
    allow_no_fencing: bool = False,
    failback: str = "stay",
    preferred_node: str = "",
    resource_name: str = "rk_ha",
    secrets: Mapping[str, str] | None = None,
) -> list[str]:
    """What is wrong with the inventory and variables alone, decided on the controller (no host read).

    The pair is two distinct nodes; the witness (if any) is a third host; every play host is one of
    them and all of them are in the play. Without a witness, only fencing (STONITH) keeps a split from
    giving two primaries: refused unless ``allow_no_fencing``. ``secrets`` maps each secret
    variable's name to its value: empty ones are named."""
    problems: list[str] = []
    nodes = list(nodes)
    if len(nodes) != 2 or len(set(nodes)) != 2:
        problems.append(
            f"ha_pair_nodes is {nodes}: name exactly two different inventory hosts (the pair; a third "
            "machine is the witness, ha_pair_witness)"
        )
    if witness and witness in nodes:
        problems.append(
            f"ha_pair_witness is {witness}, which is also in ha_pair_nodes: the witness must be a third "
            "machine, or the pair loses its quorum with that node"
        )
    members = [*nodes, *([witness] if witness else [])]
    outside = [h for h in play_hosts if h not in members]
    if outside:
        problems.append(
            f"{', '.join(outside)} run the ha_pair role but are neither in ha_pair_nodes ({', '.join(nodes)}) "
            "nor ha_pair_witness: leave them out of the play"
        )
    missing = [h for h in members if h not in play_hosts]
    if missing and not outside:
        problems.append(
            f"{', '.join(missing)} of the pair or its witness are not in this play (--limit?): the cluster "
            "is configured from all its members at once; run on all of them"
        )
    if not witness and not stonith_resources and not allow_no_fencing:
        problems.append(
            "ha_pair_witness is empty and ha_pair_stonith_resources is empty: with neither a quorum device "
            "nor fencing, a network split can leave both nodes primary and the data diverged; name a "
            "witness host, give the fencing devices, or set ha_pair_allow_no_fencing: true to accept that risk"
        )
    try:
        ipaddress.IPv4Address(str(vip))
    except ValueError:
        problems.append(f"ha_pair_vip is {vip!r}: give one free IPv4 address, without a prefix")
    if failback not in FAILBACK_POLICIES:
        problems.append(
            f"ha_pair_failback is {failback!r}: choose stay (services stay where they are) or preferred "
            "(they return to ha_pair_preferred_node)"
        )
    if preferred_node and preferred_node not in nodes:
        problems.append(
            f"ha_pair_preferred_node is {preferred_node}, which is not in ha_pair_nodes: name one of them"
        )
    if not _NAME.match(resource_name or ""):
        problems.append(
            f"ha_pair_drbd_resource is {resource_name!r}: 1 to 40 letters, digits, - or _, starting with a letter"
        )
    for index, device in enumerate(stonith_resources):
        if not device.get("id") or not device.get("agent"):
            problems.append(
                f"ha_pair_stonith_resources[{index}] needs an id and an agent (e.g. fence_ipmilan), got {dict(device)}"
            )
    for name, value in (secrets or {}).items():
        if not value:
            problems.append(f"{name} is not set: give it from a vault")
    return problems


def ha_pair_plan(
    nodes: Sequence[str],
    witness: str,
    *,
    vip: str,
    networks: Mapping[str, Sequence[Mapping[str, str]]],
    disks: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """The cluster plan from the members' facts: problems, and the addresses and VIP interface.

    ``networks[h]`` is ``ipv4_networks_from_facts`` of each member; ``disks[node]`` is the stat of
    its DRBD backing device (``path``, ``exists``, ``isblk``). The VIP must lie in a subnet both
    nodes have on one interface; that interface's address is the node's ring and replication
    address. The witness is reached at its address in that subnet, else its first one."""
    problems: list[str] = []
    plan: dict[str, Any] = {"addresses": {}, "vip_interface": {}, "vip_prefix": None}
    for node in nodes:
        disk = disks.get(node) or {}
        path = disk.get("path") or ""
        if not path:
            problems.append(f"ha_pair_drbd_disk is not set for {node}: name its dedicated block device or LV")
        elif not disk.get("exists"):
            problems.append(
                f"ha_pair_drbd_disk of {node} is {path}, which does not exist there: name an existing block device or LV"
            )
        elif not disk.get("isblk"):
            problems.append(
                f"ha_pair_drbd_disk of {node} is {path}, which is not a block device: name a disk, partition or LV"
            )
    try:
        address = ipaddress.IPv4Address(str(vip))
    except ValueError:
        return {**plan, "problems": [*problems, f"ha_pair_vip is {vip!r}: give one free IPv4 address"]}
    for member in [*nodes, *([witness] if witness else [])]:
        own = [n for n in networks.get(member, ()) if n["address"] == str(address)]
        if own:
            problems.append(
                f"ha_pair_vip {address} is the own address of {member} ({own[0]['interface']}): a virtual IP "
                "must be a free address"
            )
    for node in nodes:
        candidates = [
            n for n in networks.get(node, ()) if address in ipaddress.ip_interface(n["cidr"]).network
        ]
        if not candidates:
            seen = describe_networks(networks.get(node, ()))
            problems.append(
                f"ha_pair_vip {address} is outside every IPv4 subnet of {node} ({seen}): use a free address in "
                "the subnet both nodes share"
            )
            continue
        chosen = max(candidates, key=lambda n: ipaddress.ip_interface(n["cidr"]).network.prefixlen)
        plan["addresses"][node] = chosen["address"]
        plan["vip_interface"][node] = chosen["interface"]
        plan["vip_prefix"] = ipaddress.ip_interface(chosen["cidr"]).network.prefixlen
    if witness:
        # Its address in the pair's subnet if it has one there, else its first (qnetd is reached over TCP).
        reachable = sorted(
            networks.get(witness, ()),
            key=lambda n: address not in ipaddress.ip_interface(n["cidr"]).network,
        )
        if not reachable:
            problems.append(
                f"ha_pair_witness {witness} has no IPv4 address in its facts: the pair cannot reach it"
            )
        else:
            plan["addresses"][witness] = reachable[0]["address"]
    return {**plan, "problems": problems}
