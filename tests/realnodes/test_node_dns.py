"""The nodes' own resolver routed to the cluster DNS for real: playbooks/node_dns.yml (the dns_resolver role's
phase activate) with the midPoint cluster example's node variables, after tests/realnodes/site.yml prepared the
nodes with the same variables (phase prepare). A node's shell then resolves Service names through systemd-resolved,
CoreDNS and kube-proxy's own rules, other names still through the site's resolver (the machine's), and pods with
dnsPolicy Default (CoreDNS) get the upstream servers alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import realnodes as realnodes_cli
import yaml
from conftest import RealNodes
from playbook_run import INVENTORIES, REPO, PlaybookRun, run_playbook

NODE_VARS = INVENTORIES / "midpoint_cluster" / "group_vars" / "k8s_nodes.yml"
UPSTREAM = yaml.safe_load(NODE_VARS.read_text())["dns_resolver_upstream_resolv_conf"]
# The stand-in for the role's dummy link (this kernel has none), shared with the molecule node_prep scenario.
CLUSTER_DNS_LINK = REPO / "extensions/molecule/shared/cluster-dns-link.sh"


@pytest.fixture(scope="module")
def node_inventory(realnodes: RealNodes, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three nodes in k8s_nodes, with the example's node variables as their group_vars."""
    inventory = tmp_path_factory.mktemp("node-dns")
    (inventory / "group_vars").mkdir()
    (inventory / "group_vars" / "k8s_nodes.yml").symlink_to(NODE_VARS)
    node = {
        **realnodes_cli.node_connection(),
        "ansible_python_interpreter": "/usr/bin/python3",
        # This machine's kernel has no dummy interfaces: the link is the veth made below (the role's own dummy
        # is made in the VM tier).
        "dns_resolver_cluster_dns_link_create": False,
    }
    hosts = {
        "all": {
            "hosts": {
                "localhost": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                }
            },
            "children": {"k8s_nodes": {"hosts": dict.fromkeys(realnodes.nodes, node)}},
        }
    }
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    for name in realnodes.nodes:
        made = realnodes.on_node(name, "sh", "-c", CLUSTER_DNS_LINK.read_text())
        assert made.returncode == 0, (name, made.stderr)
    return inventory


def run_node_dns(realnodes: RealNodes, inventory: Path) -> PlaybookRun:
    return run_playbook(
        "node_dns.yml",
        str(inventory),
        extra_vars={"rk_kubeconfig": str(realnodes.cluster.kubeconfig)},
        env={"CONTAINERS_CONF": realnodes_cli.PODMAN_ENV["CONTAINERS_CONF"]},
    )


@pytest.fixture(scope="module")
def activated(realnodes: RealNodes, node_inventory: Path) -> PlaybookRun:
    return run_node_dns(realnodes, node_inventory)


def resolved(realnodes: RealNodes, node: str, name: str) -> list[str]:
    """The IPv4 addresses systemd-resolved answers for `name` on `node`."""
    query = realnodes.on_node(node, "resolvectl", "query", "--legend=no", "-4", name)
    assert query.returncode == 0, (node, name, query.stderr)
    return re.findall(r"\b(\d+\.\d+\.\d+\.\d+)\b", query.stdout)


def test_node_shell_resolves_service_names_through_coredns_and_other_names_through_the_site(
    realnodes: RealNodes, activated: PlaybookRun, namespace: str
) -> None:
    assert activated.rc == 0, activated.explain()
    realnodes.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        }
    )
    web_ip = realnodes.get("service", "-n", namespace, "web")["spec"]["clusterIP"]
    api_ip = realnodes.get("service", "-n", "default", "kubernetes")["spec"]["clusterIP"]
    dns_ip = realnodes.get("service", "-n", "kube-system", "kube-dns")["spec"]["clusterIP"]
    for node in realnodes.nodes:
        # The link scope: the cluster DNS for ~cluster.local and nothing else; the global scope without it.
        status = realnodes.on_node(node, "resolvectl", "status").stdout
        global_scope, *links = status.split("\nLink ")
        link = next(part for part in links if "(rk-clusterdns)" in part.splitlines()[0])
        assert f"DNS Servers: {dns_ip}" in link and "~cluster.local" in link and "-DefaultRoute" in link, link
        assert dns_ip not in global_scope, global_scope
        # Only CoreDNS knows these names, and these addresses (the site's resolver answers NXDOMAIN).
        assert resolved(realnodes, node, "kubernetes.default.svc.cluster.local") == [api_ip], node
        assert resolved(realnodes, node, f"web.{namespace}.svc.cluster.local") == [web_ip], node
        # Programs that read /etc/resolv.conf (glibc, through the stub) see the same.
        lookup = realnodes.on_node(node, "getent", "ahostsv4", f"web.{namespace}.svc.cluster.local")
        assert lookup.stdout.split()[:1] == [web_ip], (node, lookup.stdout, lookup.stderr)
        # A name outside the cluster domain (the node's package mirror) still resolves, through the global scope.
        sources = realnodes.on_node(node, "cat", "/etc/apt/sources.list").stdout
        mirror = re.search(r"https?://([^/\s]+)", sources)
        assert mirror, sources
        assert resolved(realnodes, node, mirror.group(1)), (node, mirror.group(1))


def test_pods_with_dns_policy_default_get_the_upstream_servers_alone(
    realnodes: RealNodes, activated: PlaybookRun, namespace: str
) -> None:
    """CoreDNS runs with dnsPolicy Default: with the cluster DNS among its servers it would forward to itself."""
    assert activated.rc == 0, activated.explain()
    dns_ip = realnodes.get("service", "-n", "kube-system", "kube-dns")["spec"]["clusterIP"]
    upstream = {}
    for node in realnodes.nodes:
        kubelet = yaml.safe_load(realnodes.on_node(node, "cat", "/var/lib/kubelet/config.yaml").stdout)
        assert kubelet["resolvConf"] == UPSTREAM, node
        upstream[node] = nameservers(realnodes.on_node(node, "cat", UPSTREAM).stdout)
        assert upstream[node] and dns_ip not in upstream[node], (node, upstream[node])
    node = realnodes.nodes[-1]
    realnodes.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "default-dns", "namespace": namespace},
            "spec": {
                "nodeName": node,
                "dnsPolicy": "Default",
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": "show",
                        "image": realnodes.images["userland"],
                        "imagePullPolicy": "Never",
                        "command": ["cat", "/etc/resolv.conf"],
                    }
                ],
            },
        }
    )
    realnodes.wait(
        "the pod to show its resolv.conf",
        lambda: realnodes.get("pod", "-n", namespace, "default-dns")["status"].get("phase") == "Succeeded",
        timeout=120,
    )
    shown = realnodes.kubectl("logs", "-n", namespace, "default-dns")
    assert nameservers(shown) == upstream[node], shown


def nameservers(resolv_conf: str) -> list[str]:
    return [line.split()[1] for line in resolv_conf.splitlines() if line.startswith("nameserver ")]


def test_node_dns_second_run_changes_nothing(
    realnodes: RealNodes, activated: PlaybookRun, node_inventory: Path
) -> None:
    assert activated.rc == 0, activated.explain()
    again = run_node_dns(realnodes, node_inventory)
    assert again.rc == 0, again.explain()
    changed = {host: stats["changed"] for host, stats in again.output["stats"].items() if stats["changed"]}
    assert not changed, changed
