#!/usr/bin/python
# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: drill
short_description: One step of a failover drill against a redundant application, with its measured recovery time
version_added: "0.1.0"
description:
  - Disrupts an application deployed by M(redundant.kube.app) the way the chaos drill of the IRIS HA article does, then
    waits until the application is redundant again (the same report as M(redundant.kube.app_info)) and judges
    the result. One task runs one O(step); C(playbooks/drill.yml) runs them in order.
  - Before the step the application must be redundant (the module waits up to O(wait_timeout) for it), else no
    recovery could be measured and the module fails with the reasons.
  - V(delete_pod) deletes the target server pod. Checks - a new pod takes its place, bound to the same claims
    and volumes (same UIDs).
  - V(drain) cordons the target server's node and evicts every pod on it like C(kubectl drain), through the
    Eviction API so PodDisruptionBudgets are honoured; a refused eviction (HTTP 429) is reported and retried
    until O(wait_timeout); a pod whose namespace is being deleted (its eviction is refused) is left to that
    deletion. Checks - the server is replaced on another node, same claims and volumes. The node is
    uncordoned afterwards (O(uncordon)).
  - V(drain_all_servers) cordons the nodes of every server at once and evicts their pods, the servers first and
    back to back - the drain that would take both sides of a pair (or all members of a cluster). Check - the
    PodDisruptionBudget refuses at least one server eviction with HTTP 429; a node whose server is refused
    keeps its other pods. On simulated kubelets (kwok), which make a replacement Ready within milliseconds, the
    other nodes are cordoned while the server evictions are sent, so the budget judges each while the evicted
    side is still down, as on real nodes.
    The nodes are then uncordoned and the evicted side must come back. Not applicable to V(single).
  - V(lose_node) runs O(lose_node_command) to take the target server's node away (power off, stop its kubelet),
    waits until its pods are evicted and replaced elsewhere (the pods' C(tolerationSeconds) for the
    C(unreachable) taint set the pace), then runs O(restore_node_command) when given. Checks - the server is
    replaced on another node, same claims and volumes.
  - V(stop_process) runs O(stop_process_command) inside the server container; the liveness probe must restart
    the container in place. Check - same pod, restart count up. On nodes with a simulated kubelet (kwok, as in
    the local control plane) no process runs, so this step is reported as not exercised.
  - Times come from object timestamps, not from the module's clock - the start from the deleted pod's
    C(deletionTimestamp) minus its grace period, the Node's C(managedFields) time of the cordon, the node
    Lease's last C(renewTime) (last heartbeat), or the container's C(lastState.terminated.finishedAt); the end
    from the newest C(Ready) transition among the app's pods. Their resolution is one second.
options:
  step:
    description: The disruption to run.
    type: str
    required: true
    choices: [delete_pod, drain, drain_all_servers, lose_node, stop_process]
  side:
    description:
      - Which server of a V(pair) to disrupt; V(a) when not given. V(active) and V(passive) are found at run time
        with the app's O(redundant.kube.app#module:active_probe).
      - Refused, before anything is disrupted, for an app that is not a V(pair).
    type: str
    choices: [a, b, active, passive]
  member:
    description:
      - Which member of a V(cluster) to disrupt (the StatefulSet ordinal); V(0) when not given.
      - Refused, before anything is disrupted, for an app that is not a V(cluster).
    type: int
  wait_timeout:
    description: Seconds to wait for redundancy before the step, and again for the recovery after it; more than 0.
    type: int
    default: 300
  uncordon:
    description: Uncordon the nodes a V(drain) cordoned once the step is judged (also when it failed).
    type: bool
    default: true
  lose_node_command:
    description:
      - Command run on the host of the task to take a node away, with C({node}) for the node name, for example
        C(virsh destroy {node}), C(ipmitool -H {node}-bmc chassis power off) or, on the local control plane,
        C(python tests/cluster/local_cluster.py lose-node --node {node} --name <cluster>). Run through the shell.
      - Required for O(step=lose_node).
    type: str
  restore_node_command:
    description:
      - Command that brings the node back after V(lose_node), with C({node}); the module then waits until the
        node is Ready and untainted. Without it the node stays lost.
    type: str
  stop_process_command:
    description: Command run inside the server container for V(stop_process), e.g. C([iris, stop, iris, quietly]).
    type: list
    elements: str
    default: [/bin/sh, -c, kill 1]
extends_documentation_fragment:
  - redundant.kube.app_target
  - redundant.kube.connection
attributes:
  check_mode:
    support: full
    description: Reports which pod and node the step would disrupt, and whether it would be exercised; changes nothing.
notes:
  - The drill disrupts a running application on purpose. Run it in a maintenance window.
  - V(drain) evicts every pod of the node, not only the application's, as C(kubectl drain) does.
seealso:
  - module: redundant.kube.app_info
  - module: redundant.kube.app
author:
  - redundant.kube contributors (@redundant-kube)
"""

EXAMPLES = r"""
- name: Delete server A's pod and measure how long until the pair is redundant again
  redundant.kube.drill:
    name: d2000
    namespace: scada
    step: delete_pod
    side: a
  register: deleted

- name: Power off the node of the active side (libvirt lab), then start it again
  redundant.kube.drill:
    name: d2000
    namespace: scada
    step: lose_node
    side: active
    lose_node_command: virsh destroy {node}
    restore_node_command: virsh start {node}
    wait_timeout: 600

- name: Stop IRIS inside its container; the liveness probe must restart it
  redundant.kube.drill:
    name: iris
    namespace: iris
    step: stop_process
    stop_process_command: [iris, stop, iris, quietly]
"""

RETURN = r"""
step:
  description: The step that ran.
  returned: always
  type: str
exercised:
  description: Whether the disruption really happened (false in check mode and for steps that cannot apply).
  returned: always
  type: bool
reason:
  description: Why the step was not exercised.
  returned: when not exercised outside check mode
  type: str
  sample: node-1 has a simulated kubelet (kwok) - no container process runs there to stop
simulated_kubelet:
  description: Whether the target server's node runs a simulated kubelet (kwok).
  returned: always
  type: bool
topology:
  description: Topology of the app.
  returned: always
  type: str
target:
  description: The disrupted server pod, its node, side and workload.
  returned: always
  type: dict
  sample: {pod: d2000-server-a-77dfcb66d9-wnt7n, node: node-2, side: a, workload: server}
after:
  description: The Ready server pod in its place after recovery, and its node.
  returned: when exercised
  type: dict
  sample: {pod: d2000-server-a-77dfcb66d9-x8k2c, node: node-3}
started_at:
  description: Start of the disruption, from an object timestamp (see RV(start_source)).
  returned: when exercised
  type: str
start_source:
  description: Which timestamp RV(started_at) comes from.
  returned: when exercised
  type: str
  sample: last heartbeat of node-2
recovered_at:
  description: When the last of the app's pods became Ready again (newest C(Ready) transition).
  returned: when exercised
  type: str
recovery_seconds:
  description: RV(recovered_at) minus RV(started_at), one-second resolution.
  returned: when exercised
  type: float
  sample: 38.0
timeline:
  description: Intermediate times - cordon, deletion, the lost node's last heartbeat, when it was marked not Ready
    and when its pods were evicted.
  returned: when exercised
  type: dict
evicted:
  description: Pods the step evicted (V(namespace/name)).
  returned: when exercised
  type: list
  elements: str
refusals:
  description: Evictions the API refused, with the HTTP status (429 for a disruption budget) and message.
  returned: when exercised
  type: list
  elements: dict
claims:
  description: Claims the target server mounted, with the UIDs of claim and volume that had to stay the same.
  returned: when exercised
  type: dict
checks:
  description: Each check with whether it held and what was seen.
  returned: when exercised
  type: list
  elements: dict
  sample: [{check: server moved, ok: true, detail: d2000-server-a-77dfcb66d9-x8k2c runs on node-3}]
reasons:
  description: Why the app is not redundant at the end; empty when it is.
  returned: when exercised
  type: list
  elements: str
node_restored:
  description: Whether the lost node came back Ready after O(restore_node_command).
  returned: when a node was lost and restore_node_command given
  type: bool
summary:
  description: One line for reports.
  returned: always
  type: str
  sample: "lose_node: d2000-server-a-77dfcb66d9-wnt7n node-2 -> node-3, redundant again 38 s after the last heartbeat of node-2"
retries:
  description:
    - How many requests to the API server were repeated after a transient failure (connection refused or
      reset, the server restarting, answers 429, 503 or 504), with exponential backoff - for up to
      O(wait_timeout) seconds per request. V(0) on a run without a blip.
  returned: once the module has connected, also when the drill fails
  type: int
  sample: 0
"""

from ansible_collections.redundant.kube.plugins.module_utils.drill.runtime import (
    DrillFailed,
    DrillParams,
    run_step,
)
from ansible_collections.redundant.kube.plugins.module_utils.drill.steps import STEPS, DrillError
from ansible_collections.redundant.kube.plugins.module_utils.kube.ansible_module import (
    kube_module,
    retries_of,
    run_kube_module,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.args_common import (
    APP_TARGET_SPEC,
    WAIT_TIMEOUT_SPEC,
)

ARGUMENT_SPEC = {
    **APP_TARGET_SPEC,
    "step": {"type": "str", "required": True, "choices": list(STEPS)},
    "side": {"type": "str", "choices": ["a", "b", "active", "passive"]},
    "member": {"type": "int"},
    **WAIT_TIMEOUT_SPEC,
    "uncordon": {"type": "bool", "default": True},
    "lose_node_command": {"type": "str"},
    "restore_node_command": {"type": "str"},
    "stop_process_command": {"type": "list", "elements": "str", "default": ["/bin/sh", "-c", "kill 1"]},
}


def main():
    module = kube_module(ARGUMENT_SPEC, required_if=[["step", "lose_node", ["lose_node_command"]]])
    p = module.params
    params = DrillParams(
        name=p["name"],
        namespace=p["namespace"],
        step=p["step"],
        side=p["side"],
        member=p["member"],
        wait_timeout=p["wait_timeout"],
        uncordon=p["uncordon"],
        lose_node_command=p["lose_node_command"],
        restore_node_command=p["restore_node_command"],
        stop_process_command=tuple(p["stop_process_command"]),
    )

    def body(resources):
        try:
            return run_step(
                resources,
                params,
                lambda line: module.run_command(line, use_unsafe_shell=True),
                module.check_mode,
            )
        except DrillError as exc:
            module.fail_json(msg=str(exc), step=p["step"], **retries_of(resources))
        except DrillFailed as exc:
            module.fail_json(msg=str(exc), **exc.result, **retries_of(resources))

    run_kube_module(module, body)


if __name__ == "__main__":
    main()
