"""Bad input to the cluster roles (and dns_resolver) fails before any host is touched, on every host, naming the variable.

The hosts of these plays point at a closed port (127.0.0.1:1): a task that tried to reach one would
make it unreachable, so "failed, never unreachable" proves the verdict came from the controller alone.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml
from playbook_run import PlaybookRun, run_playbook


def run_role(
    tmp_path: Path,
    role: str,
    groups: dict[str, list[str]],
    role_vars: dict,
    env: dict[str, str] | None = None,
) -> PlaybookRun:
    hosts = sorted({h for members in groups.values() for h in members})
    inventory = {
        "all": {
            "hosts": {
                h: {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_connection": "ssh"}
                for h in hosts
            },
            "children": {group: {"hosts": {h: {} for h in members}} for group, members in groups.items()},
        }
    }
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "play.yml").write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Bad input",
                    "hosts": "all",
                    "gather_facts": False,
                    "roles": [{"role": f"redundant.kube.{role}", "vars": role_vars}],
                }
            ]
        )
    )
    return run_playbook(tmp_path / "play.yml", str(tmp_path / "inventory.yml"), env=env)


def verdicts(run: PlaybookRun) -> dict[str, str]:
    """The failure message of each host; asserts that no host was ever reached (or tried)."""
    for host, stats in run.output["stats"].items():
        assert stats["unreachable"] == 0, f"{host} was contacted"
        assert stats["changed"] == 0
    return run.failed_messages()


K3S = {"k3s_version": "v1.33.5+k3s1"}
HA_PAIR = {
    "ha_pair_vip": "10.0.0.100",
    "ha_pair_cluster_secret": "a",
    "ha_pair_drbd_secret": "b",
    "ha_pair_database_password": "c",
}


# (role, groups, role variables, text every host's failure must contain)
BAD_INPUT = {
    "k3s-two-servers-no-witness": (
        "k3s",
        {"k3s_servers": ["s1", "s2"], "k3s_agents": ["a1"]},
        K3S,
        "2 K3S servers (s1, s2) with embedded etcd and no witness: two etcd members lose quorum when either stops",
    ),
    "k3s-four-servers": (
        "k3s",
        {"k3s_servers": ["s1", "s2", "s3", "s4"]},
        K3S,
        "4 embedded etcd members (4 servers + 0 witnesses) is an even count",
    ),
    "k3s-witness-with-datastore": (
        "k3s",
        {"k3s_servers": ["s1", "s2"], "k3s_witnesses": ["w1"], "k3s_agents": ["a1"]},
        {**K3S, "k3s_datastore_endpoint": "mysql://k3s:x@tcp(10.0.0.101:3306)/kine"},
        "k3s_datastore_endpoint is set and the group named by k3s_witnesses_group has w1",
    ),
    "k3s-join-without-token": (
        "k3s",
        {"k3s_agents": ["a1", "a2"]},
        {**K3S, "k3s_join_url": "https://10.0.0.100:6443"},
        "k3s_join_url is https://10.0.0.100:6443 (a cluster outside this inventory) but k3s_token is not set",
    ),
    "k3s-airgap-without-checksum": (
        "k3s",
        {"k3s_servers": ["s1"]},
        {**K3S, "k3s_install_source": "file", "k3s_binary_file": "/srv/airgap/k3s"},
        'k3s_install_source is file but k3s_binary_checksum is not "sha256:<64 hex digits>"',
    ),
    "k3s-no-version": (
        "k3s",
        {"k3s_servers": ["s1"]},
        {},
        "k3s_version is not set: pin the K3S release to install",
    ),
    "kubeadm-two-control-planes": (
        "kubeadm",
        {"kubeadm_control_plane": ["cp1", "cp2"], "kubeadm_workers": ["w1"]},
        {"kubeadm_control_plane_endpoint": "10.0.0.100:6443"},
        "2 control-plane nodes with stacked etcd is an even etcd member count",
    ),
    "kubeadm-no-endpoint": (
        "kubeadm",
        {"kubeadm_control_plane": ["cp1", "cp2", "cp3"]},
        {},
        "3 control-plane nodes but kubeadm_control_plane_endpoint is not set",
    ),
    "kubeadm-airgap-without-kubelet": (
        "kubeadm",
        {"kubeadm_control_plane": ["cp1"]},
        {
            "kubeadm_binary_source": "file",
            "kubeadm_binaries": {"kubeadm": {"src": "/x", "checksum": "sha256:" + "1" * 64}},
        },
        "kubeadm_binary_source is file but kubeadm_binaries.kubelet is not set",
    ),
    "kubeadm-airgap-without-checksum": (
        "kubeadm",
        {"kubeadm_control_plane": ["cp1"]},
        {
            "kubeadm_binary_source": "file",
            "kubeadm_binaries": {
                "kubeadm": {"src": "/srv/airgap/kubeadm", "checksum": "sha256:" + "1" * 64},
                "kubelet": {"src": "/srv/airgap/kubelet"},
                "kubectl": {"src": "/srv/airgap/kubectl", "checksum": "sha256:" + "1" * 64},
            },
        },
        "kubeadm_binary_source is file but kubeadm_binaries.kubelet is {'src': '/srv/airgap/kubelet'}",
    ),
    "ha-pair-one-host": (
        "ha_pair",
        {"ha_pair": ["n1"], "ha_pair_witness": ["w"]},
        HA_PAIR,
        "ha_pair_nodes is ['n1']: name exactly two different inventory hosts",
    ),
    "ha-pair-witness-is-a-node": (
        "ha_pair",
        {"ha_pair": ["n1", "n2"]},
        {**HA_PAIR, "ha_pair_witness": "n2"},
        "ha_pair_witness is n2, which is also in ha_pair_nodes",
    ),
    "ha-pair-no-witness-no-fencing": (
        "ha_pair",
        {"ha_pair": ["n1", "n2"]},
        HA_PAIR,
        "ha_pair_witness is empty and ha_pair_stonith_resources is empty",
    ),
    "ha-pair-vip-not-an-address": (
        "ha_pair",
        {"ha_pair": ["n1", "n2"], "ha_pair_witness": ["w"]},
        {**HA_PAIR, "ha_pair_vip": "10.0.0.0/24"},
        "ha_pair_vip is '10.0.0.0/24': give one free IPv4 address",
    ),
    # The node role that prepares the nodes of these clusters for their cluster DNS.
    "dns-resolver-link-name-too-long": (
        "dns_resolver",
        {"k8s_nodes": ["n1", "n2"]},
        {"dns_resolver_os_family": "Debian", "dns_resolver_cluster_dns_link": "rk-cluster-dns-link"},
        'dns_resolver_cluster_dns_link: "rk-cluster-dns-link" is not an interface name (1 to 15 of',
    ),
    "dns-resolver-link-address": (
        "dns_resolver",
        {"k8s_nodes": ["n1"]},
        {"dns_resolver_os_family": "Debian", "dns_resolver_cluster_dns_link_address": "169.254.53.300"},
        'dns_resolver_cluster_dns_link_address: "169.254.53.300" is not an IP address',
    ),
    "dns-resolver-domain": (
        "dns_resolver",
        {"k8s_nodes": ["n1"]},
        {"dns_resolver_os_family": "Debian", "dns_resolver_cluster_domain": "cluster..local"},
        'dns_resolver_cluster_domain: "cluster..local" is not a DNS domain',
    ),
}


@pytest.mark.parametrize(("role", "groups", "role_vars", "message"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_fails_every_host_untouched(tmp_path, role, groups, role_vars, message):
    found = verdicts(run_role(tmp_path, role, groups, role_vars))
    hosts = {h for members in groups.values() for h in members}
    assert set(found) == hosts, found
    assert all(message in m for m in found.values()), found


def test_k3s_wrong_binary_checksum_fails_on_every_host(tmp_path):
    binary = tmp_path / "k3s"
    binary.write_bytes(b"#!/bin/sh\n# NOT K3S: a stand-in file for the checksum test\n")
    actual = "sha256:" + hashlib.sha256(binary.read_bytes()).hexdigest()
    found = verdicts(
        run_role(
            tmp_path,
            "k3s",
            {"k3s_servers": ["s1"], "k3s_agents": ["a1"]},
            {
                **K3S,
                "k3s_install_source": "file",
                "k3s_binary_file": str(binary),
                "k3s_binary_checksum": "sha256:" + "0" * 64,
            },
        )
    )
    assert found == {
        h: f"k3s_binary_checksum: {binary} has {actual}, not sha256:{'0' * 64} - wrong file or wrong version"
        for h in ("s1", "a1")
    }


def test_k3s_host_without_a_role(tmp_path):
    found = verdicts(run_role(tmp_path, "k3s", {"k3s_servers": ["s1"], "other": ["x1"]}, K3S))
    assert set(found) == {"s1", "x1"}
    assert all(
        m.startswith("x1 in none of the groups named by k3s_servers_group (k3s_servers)")
        for m in found.values()
    )


def test_vip_outside_every_subnet_fails_untouched(tmp_path):
    """The peers' interfaces come from a fact cache that a first run fills with set_fact (local only), and
    the role skips its own fact gathering when facts are there: the verdict needs no host, none is contacted."""
    env = {
        "ANSIBLE_CACHE_PLUGIN": "jsonfile",
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(tmp_path / "facts"),
        "ANSIBLE_CACHE_PLUGIN_TIMEOUT": "0",
    }
    addresses = {"v1": "10.0.0.11", "v2": "10.0.0.12"}
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "inventory.yml").write_text(
        yaml.safe_dump({"all": {"hosts": {h: {"ansible_connection": "local"} for h in addresses}}})
    )
    (seed / "seed.yml").write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Facts of hosts that are never contacted",
                    "hosts": "all",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Cache the facts",
                            "ansible.builtin.set_fact": {
                                "cacheable": True,
                                "ansible_os_family": "Debian",
                                "ansible_interfaces": ["lo", "eth0"],
                                "ansible_eth0": {
                                    "ipv4": {"address": "{{ address }}", "netmask": "255.255.255.0"}
                                },
                            },
                            "vars": {"address": "{{ " + repr(addresses) + "[inventory_hostname] }}"},
                        }
                    ],
                }
            ]
        )
    )
    seeded = run_playbook(seed / "seed.yml", str(seed / "inventory.yml"), env=env)
    assert seeded.rc == 0, seeded.explain()
    found = verdicts(
        run_role(
            tmp_path,
            "vip",
            {"lb": list(addresses)},
            {
                "vip_peers": list(addresses),
                "vip_instances": [{"name": "api", "address": "192.0.2.10", "router_id": 51}],
            },
            env=env,
        )
    )
    assert set(found) == set(addresses), found
    for message in found.values():
        for peer, address in addresses.items():
            assert (
                f"vip_instances[api].address 192.0.2.10 is outside every IPv4 subnet of {peer} (eth0 {address}/24)"
                in message
            ), message
