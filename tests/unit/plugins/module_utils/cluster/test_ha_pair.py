"""The ha_pair role's rules (module_utils/cluster/ha_pair.py) and its filters."""

from __future__ import annotations

import pytest

from ansible_collections.redundant.kube.plugins.filter.ha_pair import FilterModule
from ansible_collections.redundant.kube.plugins.filter.ha_pair import ha_pair_plan as plan_filter
from ansible_collections.redundant.kube.plugins.module_utils.cluster import ha_pair as rules

SECRETS = {"ha_pair_cluster_secret": "a", "ha_pair_drbd_secret": "b", "ha_pair_database_password": "c"}
GOOD = {"vip": "10.0.0.100", "secrets": SECRETS}


def input_problems(nodes=("n1", "n2"), witness="w", play_hosts=("n1", "n2", "w"), **kwargs):
    return rules.ha_pair_input_problems(list(nodes), witness, list(play_hosts), **{**GOOD, **kwargs})


def test_a_pair_with_a_witness_is_accepted():
    assert input_problems() == []


def test_a_pair_with_fencing_and_no_witness_is_accepted():
    fencing = [{"id": "fence-n1", "agent": "fence_ipmilan", "params": {"ip": "10.0.1.1"}}]
    assert input_problems(witness="", play_hosts=("n1", "n2"), stonith_resources=fencing) == []


# (arguments, text the one problem must contain)
BAD = {
    "one-host": (
        {"nodes": ["n1"], "play_hosts": ["n1", "w"]},
        "ha_pair_nodes is ['n1']: name exactly two different inventory hosts",
    ),
    "same-host-twice": (
        {"nodes": ["n1", "n1"], "play_hosts": ["n1", "w"]},
        "ha_pair_nodes is ['n1', 'n1']",
    ),
    "witness-in-the-pair": (
        {"witness": "n2", "play_hosts": ["n1", "n2"]},
        "ha_pair_witness is n2, which is also in ha_pair_nodes",
    ),
    "no-witness-no-fencing": (
        {"witness": "", "play_hosts": ["n1", "n2"]},
        "ha_pair_witness is empty and ha_pair_stonith_resources is empty",
    ),
    "host-outside": (
        {"play_hosts": ["n1", "n2", "w", "x"]},
        "x run the ha_pair role but are neither in ha_pair_nodes (n1, n2) nor ha_pair_witness",
    ),
    "limit-splits-the-pair": (
        {"play_hosts": ["n1", "w"]},
        "n2 of the pair or its witness are not in this play (--limit?)",
    ),
    "vip-with-prefix": (
        {"vip": "10.0.0.100/24"},
        "ha_pair_vip is '10.0.0.100/24': give one free IPv4 address",
    ),
    "failback": ({"failback": "always"}, "ha_pair_failback is 'always': choose stay"),
    "preferred-outside": (
        {"preferred_node": "w"},
        "ha_pair_preferred_node is w, which is not in ha_pair_nodes",
    ),
    "resource-name": ({"resource_name": "r 0"}, "ha_pair_drbd_resource is 'r 0'"),
    "stonith-without-agent": (
        {"witness": "", "play_hosts": ["n1", "n2"], "stonith_resources": [{"id": "f"}]},
        "ha_pair_stonith_resources[0] needs an id and an agent",
    ),
    "secret-missing": (
        {"secrets": {**SECRETS, "ha_pair_drbd_secret": ""}},
        "ha_pair_drbd_secret is not set: give it from a vault",
    ),
}


@pytest.mark.parametrize(("kwargs", "message"), BAD.values(), ids=BAD.keys())
def test_bad_input_gives_one_problem_naming_the_variable(kwargs, message):
    problems = input_problems(**kwargs)
    assert len(problems) == 1, problems
    assert message in problems[0]


def test_no_witness_no_fencing_is_accepted_when_the_user_says_so():
    assert input_problems(witness="", play_hosts=("n1", "n2"), allow_no_fencing=True) == []


def nets(*cidrs: str, interface: str = "eth0") -> list[dict[str, str]]:
    return [{"interface": interface, "address": c.split("/")[0], "cidr": c} for c in cidrs]


NETWORKS = {"n1": nets("10.0.0.11/24"), "n2": nets("10.0.0.12/24"), "w": nets("10.0.0.13/24")}
DISKS = {n: {"path": "/dev/vdb", "exists": True, "isblk": True} for n in ("n1", "n2")}


def test_plan_addresses_and_vip_interface():
    plan = rules.ha_pair_plan(["n1", "n2"], "w", vip="10.0.0.100", networks=NETWORKS, disks=DISKS)
    assert plan == {
        "problems": [],
        "addresses": {"n1": "10.0.0.11", "n2": "10.0.0.12", "w": "10.0.0.13"},
        "vip_interface": {"n1": "eth0", "n2": "eth0"},
        "vip_prefix": 24,
    }


def test_plan_takes_the_most_specific_subnet_and_the_witness_address_there():
    networks = {
        "n1": nets("10.0.0.11/8") + nets("10.0.0.21/24", interface="eth1"),
        "n2": nets("10.0.0.12/8") + nets("10.0.0.22/24", interface="eth1"),
        "w": nets("192.168.1.13/24") + nets("10.0.0.23/24", interface="eth1"),
    }
    plan = rules.ha_pair_plan(["n1", "n2"], "w", vip="10.0.0.100", networks=networks, disks=DISKS)
    assert plan["addresses"] == {"n1": "10.0.0.21", "n2": "10.0.0.22", "w": "10.0.0.23"}
    assert plan["vip_interface"] == {"n1": "eth1", "n2": "eth1"}


PLAN_BAD = {
    "device-missing": (
        {"disks": {**DISKS, "n2": {"path": "/dev/vdz", "exists": False, "isblk": False}}},
        "ha_pair_drbd_disk of n2 is /dev/vdz, which does not exist there",
    ),
    "device-not-a-block-device": (
        {"disks": {**DISKS, "n1": {"path": "/srv/file", "exists": True, "isblk": False}}},
        "ha_pair_drbd_disk of n1 is /srv/file, which is not a block device",
    ),
    "device-not-set": (
        {"disks": {**DISKS, "n1": {"path": "", "exists": False, "isblk": False}}},
        "ha_pair_drbd_disk is not set for n1",
    ),
    "vip-outside-subnet": (
        {"vip": "10.9.9.100"},
        "ha_pair_vip 10.9.9.100 is outside every IPv4 subnet of n1 (eth0 10.0.0.11/24)",
    ),
    "vip-is-a-node-address": ({"vip": "10.0.0.12"}, "ha_pair_vip 10.0.0.12 is the own address of n2"),
}


@pytest.mark.parametrize(("kwargs", "message"), PLAN_BAD.values(), ids=PLAN_BAD.keys())
def test_plan_problems_name_the_variable(kwargs, message):
    arguments = {"vip": "10.0.0.100", "networks": NETWORKS, "disks": DISKS, **kwargs}
    problems = rules.ha_pair_plan(["n1", "n2"], "w", **arguments)["problems"]
    assert problems, arguments
    assert message in problems[0]


def test_plan_filter_reads_gathered_facts():
    def facts(address: str) -> dict:
        return {
            "ansible_facts": {
                "interfaces": ["lo", "eth0"],
                "eth0": {"ipv4": {"address": address, "netmask": "255.255.255.0"}},
            }
        }

    hostvars = {"n1": facts("10.0.0.11"), "n2": facts("10.0.0.12"), "w": facts("10.0.0.13")}
    plan = plan_filter(["n1", "n2"], "w", "10.0.0.100", hostvars, DISKS)
    assert plan["problems"] == []
    assert plan["addresses"]["w"] == "10.0.0.13"
    assert set(FilterModule().filters()) == {"ha_pair_input_problems", "ha_pair_plan"}
