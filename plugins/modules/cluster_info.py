#!/usr/bin/python
# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: cluster_info
short_description: Report a cluster's nodes and storage, and verify that expected nodes joined and are Ready
version_added: "0.1.0"
description:
  - Reads the API server version, every Node (readiness with its reason, roles, zone, taints) and the
    StorageClasses.
  - With O(expected_nodes), fails when a node has not joined, is not Ready or is cordoned, naming each such
    node and the reason the cluster reports, instead of a bare "not all nodes joined".
  - Read-only; safe in check mode.
options:
  expected_nodes:
    description: Node names that must be present and Ready, usually the inventory hostnames of the cluster.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - redundant.kube.connection
attributes:
  check_mode:
    support: full
    description: Read-only; check mode runs the same reads.
author:
  - redundant.kube contributors (@redundant-kube)
"""

EXAMPLES = r"""
- name: Verify that every cluster host joined
  redundant.kube.cluster_info:
    expected_nodes: "{{ groups['k3s_cluster'] }}"
  register: cluster

- name: Show the default storage class
  ansible.builtin.debug:
    var: cluster.default_storage_class
"""

RETURN = r"""
server_version:
  description: Version the API server reports.
  returned: always
  type: str
  sample: v1.35.4
nodes:
  description: One entry per Node.
  returned: always
  type: list
  elements: dict
  sample:
    - name: node-1
      ready: true
      ready_reason: KubeletReady
      unschedulable: false
      roles: [control-plane]
      zone: zone-a
      kubelet_version: v1.35.4
      taints: []
storage_classes:
  description: Names of the StorageClasses.
  returned: always
  type: list
  elements: str
default_storage_class:
  description: The StorageClass marked default, if any.
  returned: always
  type: str
problems:
  description: One line per expected node that is missing, not Ready or cordoned.
  returned: always
  type: list
  elements: str
retries:
  description:
    - How many requests to the API server were repeated after a transient failure (connection refused or
      reset, the server restarting, answers 429, 503 or 504), with exponential backoff - up to 5 times per
      request. V(0) on a run without a blip.
  returned: once the module has connected, also when it fails
  type: int
  sample: 0
"""

from ansible_collections.redundant.kube.plugins.module_utils.kube.ansible_module import (
    kube_module,
    retries_of,
    run_kube_module,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.nodes import node_problems, node_summary


def main():
    module = kube_module({"expected_nodes": {"type": "list", "elements": "str", "default": []}})

    def report(resources):
        version = resources.server_version().get("gitVersion")
        nodes = [node_summary(n) for n in resources.list("v1", "Node")]
        classes = resources.list("storage.k8s.io/v1", "StorageClass")
        default = next(
            (
                c["metadata"]["name"]
                for c in classes
                if (c["metadata"].get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class")
                == "true"
            ),
            None,
        )
        problems = node_problems(nodes, module.params["expected_nodes"])
        result = {
            "changed": False,
            "server_version": version,
            "nodes": nodes,
            "storage_classes": sorted(c["metadata"]["name"] for c in classes),
            "default_storage_class": default,
            "problems": problems,
        }
        if problems:
            module.fail_json(
                msg=f"{len(problems)} expected node(s) not ready: " + "; ".join(problems),
                **result,
                **retries_of(resources),
            )
        return result

    run_kube_module(module, report)


if __name__ == "__main__":
    main()
