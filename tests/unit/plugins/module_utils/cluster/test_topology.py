"""The topology rules of the cluster roles (module_utils/cluster/topology.py) and their filters."""

from __future__ import annotations

import pytest

from ansible_collections.redundant.kube.plugins.filter.topology import FilterModule
from ansible_collections.redundant.kube.plugins.filter.topology import vip_plan as vip_plan_filter
from ansible_collections.redundant.kube.plugins.module_utils.cluster import topology as topo


def hosts(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(1, n + 1)]


# (servers, witnesses, external datastore) -> None when valid, else text the one problem must contain.
K3S_MATRIX = [
    (1, 0, False, None),
    (3, 0, False, None),
    (5, 0, False, None),
    (2, 1, False, None),
    (1, 0, True, None),
    (2, 0, True, None),
    (3, 0, True, None),
    (2, 0, False, "2 K3S servers (s1, s2) with embedded etcd and no witness"),
    (4, 0, False, "4 embedded etcd members (4 servers + 0 witnesses) is an even count"),
    (6, 0, False, "6 embedded etcd members"),
    (3, 1, False, "4 embedded etcd members (3 servers + 1 witnesses) is an even count"),
    (2, 2, False, "4 embedded etcd members"),
    (2, 1, True, "k3s_datastore_endpoint is set and the group named by k3s_witnesses_group has w1"),
]


@pytest.mark.parametrize(
    ("servers", "witnesses", "datastore", "problem"),
    K3S_MATRIX,
    ids=[f"{s}servers-{w}witness-{'datastore' if d else 'etcd'}" for s, w, d, _unused in K3S_MATRIX],
)
def test_k3s_topology_matrix(servers, witnesses, datastore, problem):
    problems = topo.k3s_topology_problems(
        hosts("s", servers), ["a1"], hosts("w", witnesses), datastore_endpoint=datastore
    )
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1, problems
        assert problem in problems[0]


def test_two_servers_without_witness_names_both_fixes():
    [problem] = topo.k3s_topology_problems(["s1", "s2"])
    assert "k3s_datastore_endpoint" in problem and "k3s_witnesses_group" in problem
    assert "lose quorum" in problem


def test_host_in_two_groups():
    [problem] = topo.k3s_topology_problems(["s1"], ["s1", "a1"])
    assert problem.startswith("s1 is in more than one group (k3s_servers_group, k3s_agents_group)")


def test_join_of_an_outside_cluster_needs_the_token():
    [problem] = topo.k3s_topology_problems([], ["a1"], join_url="https://10.0.0.100:6443")
    assert "k3s_token is not set" in problem
    assert topo.k3s_topology_problems([], ["a1"], join_url="https://10.0.0.100:6443", token_given=True) == []


def test_agents_need_servers_or_a_join_url():
    [problem] = topo.k3s_topology_problems([], ["a1"])
    assert "k3s_servers_group has no hosts and k3s_join_url is not set" in problem


def test_extra_config_must_not_set_managed_keys():
    problems = topo.k3s_topology_problems(
        ["s1"],
        server_config={"token": "x", "write-kubeconfig-mode": "0600"},
        agent_config={"server": "https://x"},
    )
    assert problems == [
        "k3s_server_config sets 'token', which the k3s role derives from the topology: remove it "
        "(use k3s_token, k3s_api_endpoint, k3s_datastore_endpoint or k3s_node_name instead)",
        "k3s_agent_config sets 'server', which the k3s role derives from the topology: remove it "
        "(use k3s_token, k3s_api_endpoint, k3s_datastore_endpoint or k3s_node_name instead)",
    ]


def state(in_cluster: bool, digest: str | None = None) -> dict:
    return {"in_cluster": in_cluster, "token_digest": digest}


def test_bootstrap_of_a_fresh_inventory_is_the_first_or_preferred_server():
    fresh = {h: state(False) for h in ("s1", "s2", "s3")}
    assert topo.k3s_bootstrap(["s1", "s2", "s3"], fresh) == {
        "bootstrap": "s1",
        "existing": False,
        "problems": [],
    }
    assert topo.k3s_bootstrap(["s1", "s2", "s3"], fresh, "s3")["bootstrap"] == "s3"


def test_bootstrap_is_a_server_already_in_the_cluster_not_blindly_the_first():
    # s1 was reinstalled (empty); s2 and s3 still run the cluster: s1 must join them, not start anew.
    states = {"s1": state(False), "s2": state(True, "abc"), "s3": state(True, "abc")}
    assert topo.k3s_bootstrap(["s1", "s2", "s3"], states) == {
        "bootstrap": "s2",
        "existing": True,
        "problems": [],
    }
    # A preferred server that is not in the cluster does not win over one that is.
    assert topo.k3s_bootstrap(["s1", "s2", "s3"], states, "s1")["bootstrap"] == "s2"
    assert topo.k3s_bootstrap(["s1", "s2", "s3"], states, "s3")["bootstrap"] == "s3"


def test_servers_of_two_clusters_are_refused():
    states = {"s1": state(True, "abc"), "s2": state(True, "def")}
    result = topo.k3s_bootstrap(["s1", "s2"], states)
    assert result["bootstrap"] is None
    assert "hold different cluster tokens" in result["problems"][0]


def test_preferred_bootstrap_must_be_a_server():
    result = topo.k3s_bootstrap(["s1"], {"s1": state(False)}, "a1")
    assert result["problems"] == [
        "k3s_bootstrap_server is a1, which is not in the group named by k3s_servers_group (s1): name one of those hosts or unset it"
    ]


@pytest.mark.parametrize(
    ("kind", "kwargs", "expected"),
    [
        (
            "server",
            {"bootstrap": True, "tls_san": ["10.0.0.100", "10.0.0.100"]},
            {"cluster-init": True, "tls-san": ["10.0.0.100"]},
        ),
        ("server", {"server_url": "https://10.0.0.100:6443"}, {"server": "https://10.0.0.100:6443"}),
        ("server", {"external_datastore": True, "bootstrap": True}, {}),
        ("server", {"external_datastore": True, "server_url": "https://x:6443"}, {}),
        ("witness", {"server_url": "https://s1:6443"}, {"server": "https://s1:6443", **topo.K3S_ETCD_ONLY}),
        (
            "agent",
            {"server_url": "https://10.0.0.100:6443", "tls_san": ["ignored"]},
            {"server": "https://10.0.0.100:6443"},
        ),
    ],
    ids=["bootstrap", "joining-server", "datastore-first", "datastore-second", "witness", "agent"],
)
def test_k3s_node_config(kind, kwargs, expected):
    config = topo.k3s_node_config(kind, node_name="n1", token_file="/etc/rancher/k3s/cluster-token", **kwargs)
    assert config == dict(
        sorted({"node-name": "n1", "token-file": "/etc/rancher/k3s/cluster-token", **expected}.items())
    )
    assert "token" not in config and "datastore-endpoint" not in config  # secrets never in config.yaml


def test_k3s_node_config_merges_extra_but_keeps_managed_keys():
    config = topo.k3s_node_config(
        "server",
        node_name="n1",
        token_file="/t",
        bootstrap=True,
        extra={"disable": ["traefik"], "node-name": "other"},
    )
    assert config["disable"] == ["traefik"] and config["node-name"] == "n1"
    with pytest.raises(ValueError, match="unknown K3S node kind"):
        topo.k3s_node_config("master", node_name="n1", token_file="/t")


@pytest.mark.parametrize(
    ("control_planes", "endpoint", "external", "problem"),
    [
        (1, None, False, None),
        (3, "10.0.0.100:6443", False, None),
        (5, "10.0.0.100:6443", False, None),
        (2, "10.0.0.100:6443", True, None),
        (2, "10.0.0.100:6443", False, "2 control-plane nodes with stacked etcd is an even etcd member count"),
        (4, "10.0.0.100:6443", False, "4 control-plane nodes with stacked etcd"),
        (3, None, False, "3 control-plane nodes but kubeadm_control_plane_endpoint is not set"),
        (0, None, False, "kubeadm_control_plane_group has no hosts"),
    ],
)
def test_kubeadm_topology_matrix(control_planes, endpoint, external, problem):
    problems = topo.kubeadm_topology_problems(
        hosts("cp", control_planes), ["w1"], control_plane_endpoint=endpoint, external_etcd=external
    )
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1, problems
        assert problem in problems[0]


def test_kubeadm_never_inits_twice():
    assert topo.kubeadm_bootstrap(["cp1", "cp2", "cp3"], {"cp2": True})["bootstrap"] == "cp2"
    assert topo.kubeadm_bootstrap(["cp1", "cp2", "cp3"], {}, "cp3") == {
        "bootstrap": "cp3",
        "existing": False,
        "problems": [],
    }
    assert "kubeadm_bootstrap_node is w1" in topo.kubeadm_bootstrap(["cp1"], {}, "w1")["problems"][0]


def facts(*interfaces: tuple[str, str, str]) -> dict:
    """Gathered-facts shape: interfaces list plus one key per interface with its primary ipv4."""
    result: dict = {"interfaces": ["lo"] + [name for name, _unused, _unused in interfaces]}
    result["lo"] = {"ipv4": {"address": "127.0.0.1", "netmask": "255.0.0.0"}}
    for name, address, netmask in interfaces:
        result[name.replace("-", "_")] = {
            "ipv4": {"address": address, "netmask": netmask},
            "ipv4_secondaries": [{"address": "10.89.7.100", "netmask": "255.255.255.0"}],
        }
    return result


def test_ipv4_networks_from_facts_skips_loopback_and_secondaries():
    networks = topo.ipv4_networks_from_facts(
        facts(("eth0", "10.89.7.2", "255.255.255.0"), ("br-x", "192.168.5.1", "255.255.0.0"))
    )
    assert networks == [
        {"interface": "eth0", "address": "10.89.7.2", "cidr": "10.89.7.2/24"},
        {"interface": "br-x", "address": "192.168.5.1", "cidr": "192.168.5.1/16"},
    ]


NETWORKS = {
    "n1": [{"interface": "eth0", "address": "10.89.7.2", "cidr": "10.89.7.2/24"}],
    "n2": [
        {"interface": "eth1", "address": "10.0.0.3", "cidr": "10.0.0.3/8"},
        {"interface": "eth0", "address": "10.89.7.3", "cidr": "10.89.7.3/24"},
    ],
}
API = {"name": "api", "address": "10.89.7.100", "router_id": 51}


def test_vip_plan_finds_interface_and_unicast_peers():
    plan = topo.vip_plan([API], ["n1", "n2"], NETWORKS, "n2")
    assert plan == {
        "problems": [],
        "instances": {
            "api": {
                "interface": "eth0",
                "source_address": "10.89.7.3",
                "prefix": 24,
                "unicast_peers": ["10.89.7.2"],
            }
        },
    }


@pytest.mark.parametrize(
    ("instance", "problem"),
    [
        (
            {"address": "192.168.9.9"},
            "vip_instances[api].address 192.168.9.9 is outside every IPv4 subnet of n1 (eth0 10.89.7.2/24): "
            "use a free address in a subnet all vip_peers share on one interface",
        ),
        ({"address": "10.1.2.3"}, "10.1.2.3 is outside every IPv4 subnet of n1"),  # only n2 has 10.0.0.0/8
        ({"address": "10.89.7.3"}, "vip_instances[api].address 10.89.7.3 is the own address of n2"),
        ({"address": "10.89.7.100/24"}, "vip_instances[api].address '10.89.7.100/24' is not an IPv4 address"),
        ({"router_id": 300}, "vip_instances[api].router_id 300 is outside 1-255"),
        ({"interface": "eth1"}, "(interface pinned to eth1)"),
    ],
    ids=["outside-all", "outside-one", "own-address", "with-prefix", "router-id", "pinned-interface"],
)
def test_vip_bad_input_names_the_variable(instance, problem):
    plan = topo.vip_plan([{**API, **instance}], ["n1", "n2"], NETWORKS, "n1")
    assert any(problem in p for p in plan["problems"]), plan["problems"]
    # The same verdict on every host, so the whole play fails before any host is touched.
    assert plan["problems"] == topo.vip_plan([{**API, **instance}], ["n1", "n2"], NETWORKS, "n2")["problems"]


def test_vip_duplicate_instances_and_foreign_host():
    plan = topo.vip_plan([API, {**API, "name": "db"}], ["n1", "n2"], NETWORKS, "n3")
    assert "n3 runs the vip role but is not in vip_peers (n1, n2)" in plan["problems"][0]
    assert plan["problems"][1:] == [
        "vip_instances: two instances share router_id 51: each VRRP instance needs its own",
        "vip_instances: two instances share address 10.89.7.100: each VRRP instance needs its own",
    ]


def test_vip_plan_filter_reads_hostvars_facts():
    hostvars = {
        "n1": {"ansible_facts": facts(("eth0", "10.89.7.2", "255.255.255.0"))},
        "n2": {"ansible_facts": facts(("eth0", "10.89.7.3", "255.255.255.0"))},
    }
    plan = vip_plan_filter([API], ["n1", "n2"], hostvars, "n1")
    assert plan["instances"]["api"]["unicast_peers"] == ["10.89.7.3"]


def test_vip_priority_orders_peers():
    assert [topo.vip_priority(["a", "b", "c"], h) for h in ("a", "b", "c", "x")] == [150, 140, 130, 1]


@pytest.mark.parametrize(
    ("requested", "nodes", "replicas", "problem"),
    [
        (None, 2, 2, None),
        (None, 1, 1, None),
        (None, 5, 3, None),
        (2, 2, 2, None),
        (3, 2, None, "storage_longhorn_replicas is 3 but there are 2 storage nodes"),
        (0, 2, None, "storage_longhorn_replicas is 0"),
        (None, 0, None, "storage_nodes is empty"),
    ],
)
def test_storage_replica_count(requested, nodes, replicas, problem):
    result = topo.storage_replica_count(requested, nodes)
    assert result["replicas"] == replicas
    assert (problem is None and result["problems"] == []) or problem in result["problems"][0]


def test_every_filter_is_registered():
    names = set(FilterModule().filters())
    assert names == {
        "k3s_topology_problems",
        "k3s_bootstrap",
        "k3s_node_config",
        "kubeadm_topology_problems",
        "kubeadm_bootstrap",
        "vip_plan",
        "vip_priority",
        "storage_replica_count",
    }
