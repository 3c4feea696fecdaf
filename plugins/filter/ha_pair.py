# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters through which the ha_pair role reaches its pure rules in ``module_utils/cluster/ha_pair.py``.
Documentation: one ``<filter>.yml`` each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.redundant.kube.plugins.module_utils.cluster import ha_pair as rules
from ansible_collections.redundant.kube.plugins.module_utils.cluster import topology


def ha_pair_input_problems(
    nodes: Sequence[str], witness: str, play_hosts: Sequence[str], **kwargs: Any
) -> list[str]:
    return rules.ha_pair_input_problems(nodes, witness or "", play_hosts, **kwargs)


def ha_pair_plan(
    nodes: Sequence[str], witness: str, vip: str, hostvars: Mapping[str, Any], disks: Mapping[str, Any]
) -> dict[str, Any]:
    """``hostvars`` is Ansible's: each member's gathered facts give its interfaces."""
    members = [*nodes, *([witness] if witness else [])]
    networks = {
        member: topology.ipv4_networks_from_facts(hostvars[member].get("ansible_facts") or {})
        for member in members
        if member in hostvars
    }
    return rules.ha_pair_plan(nodes, witness or "", vip=vip, networks=networks, disks=disks)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"ha_pair_input_problems": ha_pair_input_problems, "ha_pair_plan": ha_pair_plan}
