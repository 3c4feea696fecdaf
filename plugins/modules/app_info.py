#!/usr/bin/python
# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: app_info
short_description: Report where a redundant application runs and whether it is really redundant
version_added: "0.1.0"
description:
  - Reads the objects of an application deployed by M(redundant.kube.app) (found by its labels) and reports
    each workload and pod with its side, node, phase, readiness and restarts, and its claims.
  - Says whether the redundancy holds (RV(redundant)) and, when not, why (RV(reasons)) - both servers on one
    node or failure domain, a side down, a companion away from its server, a claim unbound, the
    PodDisruptionBudget missing, a cluster of fewer than two members, a single instance with no node to fail
    over to.
  - Tells which side is active with the O(redundant.kube.app#module:active_probe) recorded by the app module
    (a label or annotation the application sets, an exec command, or an HTTP GET).
  - Read-only; safe in check mode. An O(name) or O(namespace) that is not a valid Kubernetes name is refused.
extends_documentation_fragment:
  - redundant.kube.app_target
  - redundant.kube.connection
attributes:
  check_mode:
    support: full
    description: Reads only; returns the same in check mode.
seealso:
  - module: redundant.kube.app
author:
  - redundant.kube contributors (@redundant-kube)
"""

EXAMPLES = r"""
- name: Is the D2000 pair redundant, and which side is HOT?
  redundant.kube.app_info:
    name: d2000
    namespace: scada
  register: d2000

- name: Stop a maintenance playbook when redundancy is broken
  ansible.builtin.assert:
    that: d2000.redundant
    fail_msg: "{{ d2000.reasons | join('; ') }}"
"""

RETURN = r"""
exists:
  description: Whether any workload of the app was found.
  returned: always
  type: bool
topology:
  description: V(pair), V(single) or V(cluster), as recorded by the app module.
  returned: when exists
  type: str
topology_key:
  description: Node label whose values are the failure domains.
  returned: when exists
  type: str
workloads:
  description: Deployments/StatefulSets with side, replicas and ready replicas.
  returned: always
  type: list
  elements: dict
  sample: [{name: d2000-server-a, kind: Deployment, workload: server, workload_kind: server, side: a,
            replicas: 1, ready_replicas: 1}]
pods:
  description:
    - Pods with workload, side, node, phase, readiness and restarts.
    - C(terminating) is true for a pod deleted or evicted but not gone yet, such as the pod of a lost node,
      which stays listed until that node's kubelet is back to end it (or it is deleted with force); its
      replacement is listed beside it.
  returned: always
  type: list
  elements: dict
  sample: [{name: d2000-server-a-5d9c-7xk2p, workload: server, kind: server, side: a, node: node-1,
            phase: Running, ready: true, restarts: 0, terminating: false}]
claims:
  description: PersistentVolumeClaims with phase, requested size, capacity, class and side.
  returned: always
  type: list
  elements: dict
disruption_budgets:
  description: Names of the app's PodDisruptionBudgets.
  returned: when exists
  type: list
  elements: str
redundant:
  description: Whether the redundancy holds right now.
  returned: always
  type: bool
reasons:
  description:
    - Why it does not; empty when RV(redundant) is true. When nothing is found it says whether the namespace is
      missing (V(namespace scada does not exist)) or holds no workload of the app, and for a server pod the
      scheduler cannot place on this cluster whatever the wait (required anti-affinity with fewer failure domains
      than sides, no node matching its node selector, a StorageClass that does not exist) it gives the
      scheduler's message.
  returned: always
  type: list
  elements: str
  sample: ["side B is down or degraded: d2000-server-b 0/1 ready"]
active_probe:
  description: The active probe recorded on the server workloads, if any.
  returned: always
  type: dict
active_side:
  description: Side (V(a) or V(b)) whose server is active; null when unknown, none or both claim it.
  returned: always
  type: str
active_pods:
  description: Server pods the active probe marks as active.
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

from ansible_collections.redundant.kube.plugins.module_utils.app.report import call_probe, report
from ansible_collections.redundant.kube.plugins.module_utils.app.spec import SpecError, check_name
from ansible_collections.redundant.kube.plugins.module_utils.kube.ansible_module import (
    kube_module,
    run_kube_module,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.args_common import APP_TARGET_SPEC


def main():
    module = kube_module(APP_TARGET_SPEC)
    params = module.params
    try:
        check_name("name", params["name"])
        check_name("namespace", params["namespace"])
    except SpecError as exc:
        module.fail_json(msg=str(exc))

    def body(resources):
        probe = call_probe(resources.api_client, params["namespace"])
        return {"changed": False, **report(resources, params["name"], params["namespace"], probe)}

    run_kube_module(module, body)


if __name__ == "__main__":
    main()
