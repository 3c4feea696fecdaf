# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What redundant.kube.drill does against a cluster: one disruption, then wait until the app is redundant
again and judge the result.

The judging and the timestamps are pure (steps.py); redundancy is the app_info report (app/report.py),
so the drill and app_info can never disagree on what "redundant" means.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.redundant.kube.plugins.module_utils.app.report import call_probe, report
from ansible_collections.redundant.kube.plugins.module_utils.drill.steps import (
    REPLACING_STEPS,
    DrillError,
    choose_target,
    claim_identity,
    claim_names,
    cordoned_at,
    deletion_started,
    drain_order,
    failed_checks,
    format_time,
    is_simulated,
    last_heartbeat,
    node_ready_changed,
    options_for_topology,
    recovered_at,
    replacement,
    restart_state,
    seconds_between,
    server_pods,
    slot,
    step_checks,
    waiting_in_slot,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.objects import app_selector, exec_in_pod
from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import (
    ApiStatusError,
    NamespaceTerminatingError,
    NotFoundError,
    Resources,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.waiter import poll_or_last

POLL_SECONDS = 0.5
EVICTION_RETRY_SECONDS = 2.0
# The taints the node lifecycle controller puts on a node it cannot hear from.
LOST_NODE_TAINTS = ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready")

RunCommand = Callable[[str], tuple[int, str, str]]


def pod_ref(pod: dict[str, Any]) -> str:
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"


@dataclass(frozen=True)
class DrillParams:
    name: str
    namespace: str
    step: str
    side: str = "a"
    member: int = 0
    wait_timeout: float = 300
    uncordon: bool = True
    lose_node_command: str | None = None
    restore_node_command: str | None = None
    stop_process_command: tuple[str, ...] = ()


class DrillFailed(Exception):
    """A step ran but a check failed; `result` is the full step report."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class Disruption:
    """What a step did: when its effect started (read from the cluster, None until known), in whose words,
    and what it took that must be given back."""

    started: float | None = None
    source: str = ""
    evicted: list[str] = field(default_factory=list)
    refusals: list[dict[str, Any]] = field(default_factory=list)
    cordoned: list[str] = field(default_factory=list)
    lost: bool = False
    timeline: dict[str, float | None] = field(default_factory=dict)


@dataclass
class Snapshot:
    report: dict[str, Any]
    pods: list[dict[str, Any]]


class NodeDrain:
    """Taking nodes out of service and giving them back, as `kubectl cordon/drain/uncordon` do: cordon,
    evictions through the Eviction API (so disruption budgets judge them), refusals retried until the
    deadline."""

    def __init__(
        self,
        resources: Resources,
        poll: Callable[[Callable[[], tuple[bool, Any]], float, float], Any],
        wait_timeout: float,
    ) -> None:
        self.resources = resources
        self.poll = poll
        self.wait_timeout = wait_timeout

    def node(self, name: str) -> dict[str, Any]:
        node = self.resources.get("v1", "Node", name)
        if node is None:
            raise DrillError(f"node {name} does not exist any more")
        return node

    def cordon(self, node: str, unschedulable: bool) -> dict[str, Any]:
        return self.resources.merge_patch(
            "v1", "Node", node, None, {"spec": {"unschedulable": unschedulable}}
        )

    def evict(self, pod: dict[str, Any]) -> dict[str, Any] | None:
        """Ask the Eviction API to remove a pod; the refusal (429 when a disruption budget forbids it), else None."""
        meta = pod["metadata"]
        path = self.resources.resource_type("v1", "Pod").path(meta["name"], meta["namespace"], "eviction")
        body = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
        }
        try:
            self.resources.request(
                "POST", path, body=body, what=f"eviction of pod {meta['namespace']}/{meta['name']}"
            )
        # Gone already, or going with its namespace (an eviction there is refused, as kubectl drain finds too):
        # nothing left to evict.
        except (NotFoundError, NamespaceTerminatingError):
            return None
        except ApiStatusError as exc:
            if exc.status != 429:
                raise
            return {
                "pod": f"{meta['namespace']}/{meta['name']}",
                "status": 429,
                "message": str(exc).split(": ", 1)[-1],
            }
        return None

    def pods_on(self, node: str) -> list[dict[str, Any]]:
        return drain_order(self.resources.list("v1", "Pod", field_selector=f"spec.nodeName={node}"))

    def evict_each(self, pods: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
        """(evicted pods as namespace/name, refusals)."""
        evicted, refusals = [], []
        for pod in pods:
            refusal = self.evict(pod)
            if refusal:
                refusals.append(refusal)
            else:
                evicted.append(pod_ref(pod))
        return evicted, refusals

    def drain(self, node: str, deadline: float) -> tuple[list[str], list[dict[str, Any]]]:
        """Evict every pod of a cordoned node like `kubectl drain`: refused evictions are retried until the
        deadline, each refusal is reported once."""
        evicted: list[str] = []
        refusals: dict[str, dict[str, Any]] = {}

        def evict_all() -> tuple[bool, list[dict[str, Any]]]:
            done, refused_now = self.evict_each(self.pods_on(node))
            evicted.extend(done)
            for refusal in refused_now:
                refusals.setdefault(refusal["pod"], refusal)
            return not refused_now, refused_now

        refused_last = self.poll(evict_all, deadline, EVICTION_RETRY_SECONDS)
        if refused_last:
            names = ", ".join(r["pod"] for r in refused_last)
            raise DrillError(
                f"drain of {node} incomplete after {self.wait_timeout:g}s: evictions of {names} refused"
            )
        return evicted, list(refusals.values())

    def drain_at_once(
        self, nodes: list[str], servers: set[str], simulated: bool
    ) -> tuple[list[str], list[dict[str, Any]]]:
        """Drain several nodes at once. The app's servers on every node go first, back to back; a node whose
        server is refused keeps the rest of its pods, as a drain stopped by the disruption budget does.

        The budget must judge the second server eviction while the first side is still down, as it is on real
        nodes, where a replacement takes seconds to start. A simulated kubelet makes a replacement Ready within
        milliseconds, often before the next request arrives, so on simulated nodes the other nodes are held
        (cordoned) while the servers' evictions are sent and given back right after."""
        held: list[str] = []
        try:
            if simulated:
                self.hold_other_nodes(nodes, held)
            pods = {node: self.pods_on(node) for node in nodes}
            evicted, refusals = self.evict_each([p for n in nodes for p in pods[n] if pod_ref(p) in servers])
        finally:
            self.uncordon(held)
        refused = {r["pod"] for r in refusals}
        for node in nodes:
            if any(pod_ref(p) in refused for p in pods[node]):
                continue
            more, more_refusals = self.evict_each([p for p in pods[node] if pod_ref(p) not in servers])
            evicted += more
            refusals += more_refusals
        return evicted, refusals

    def cordon_all(self, nodes: list[str]) -> list[str]:
        done = []
        for node in nodes:
            if self.node(node).get("spec", {}).get("unschedulable"):
                self.uncordon(done)
                raise DrillError(
                    f"node {node} is already cordoned: uncordon it first, the drill restores only what it changed"
                )
            self.cordon(node, True)
            done.append(node)
        return done

    def hold_other_nodes(self, nodes: list[str], held: list[str]) -> None:
        """Cordon every schedulable node not in `nodes`, adding each to `held` as soon as it is cordoned (so a
        failure halfway still gives back the ones already taken)."""
        for node in self.resources.list("v1", "Node"):
            name = node["metadata"]["name"]
            if name not in nodes and not node.get("spec", {}).get("unschedulable"):
                self.cordon(name, True)
                held.append(name)

    def uncordon(self, nodes: list[str]) -> None:
        for node in nodes:
            self.cordon(node, False)

    def cordon_time(self, node: str) -> float | None:
        return cordoned_at(self.node(node))


class Drill:
    """One step of the drill against one app."""

    def __init__(
        self,
        resources: Resources,
        params: DrillParams,
        run_command: RunCommand,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.resources = resources
        self.p = params
        self.run_command = run_command
        self.sleep = sleep
        self.clock = clock
        self.nodes = NodeDrain(resources, self.poll, params.wait_timeout)

    # -- reading ---------------------------------------------------------------------------------
    def snapshot(self, active_side: bool = False) -> Snapshot:
        """The app_info report and the app's pods. Exec/HTTP active probes are only asked when the active
        side is wanted: they cost a round trip per server pod."""
        probe = call_probe(self.resources.api_client, self.p.namespace) if active_side else None
        state = report(self.resources, self.p.name, self.p.namespace, probe)
        pods = self.resources.list("v1", "Pod", self.p.namespace, label_selector=app_selector(self.p.name))
        return Snapshot(state, pods)

    def claims_of(self, pod: dict[str, Any]) -> dict[str, dict[str, str | None]]:
        claims, volumes = {}, {}
        for name in claim_names(pod):
            claim = self.resources.get("v1", "PersistentVolumeClaim", name, self.p.namespace)
            if claim is None:
                continue
            claims[name] = claim
            volume_name = claim.get("spec", {}).get("volumeName")
            if volume_name:
                volumes[volume_name] = self.resources.get("v1", "PersistentVolume", volume_name) or {}
        return claim_identity(pod, claims, volumes)

    def poll(
        self, check: Callable[[], tuple[bool, Any]], deadline: float, interval: float = POLL_SECONDS
    ) -> Any:
        """kube/waiter.poll_or_last on the drill's clock: the last value when the deadline passes."""
        return poll_or_last(check, deadline, interval=interval, sleep=self.sleep, clock=self.clock)

    def wait_redundant(self, deadline: float) -> Snapshot:
        """The app's snapshot once it is redundant, or at the deadline (the step then refuses to run). An app
        that is missing, or options its topology has no use for, are refused at once: no wait can help."""

        def check() -> tuple[bool, Snapshot]:
            snap = self.snapshot()
            self.check_target(snap)
            return snap.report["redundant"], snap

        return self.poll(check, deadline)

    def check_target(self, snap: Snapshot) -> DrillParams:
        """The parameters with side and member filled in for the app found; DrillError when there is no app or
        an option does not apply to its topology."""
        if not snap.report["exists"]:
            raise DrillError(
                f"app {self.p.name} not found in namespace {self.p.namespace}: deploy it first (playbooks/app.yml)"
            )
        return options_for_topology(self.p, snap.report["topology"])

    # -- disrupting ------------------------------------------------------------------------------
    def delete_pod(self, pod: dict[str, Any]) -> float | None:
        path = self.resources.resource_type("v1", "Pod").path(pod["metadata"]["name"], self.p.namespace)
        deleted = self.resources.request("DELETE", path, what=f"deleting pod {pod['metadata']['name']}")
        return deletion_started(deleted)

    def command(self, option: str, template: str, node: str) -> None:
        line = template.replace("{node}", shlex.quote(node))
        rc, out, err = self.run_command(line)
        if rc != 0:
            detail = (err or out).strip().splitlines()[-1:] or ["no output"]
            raise DrillError(f"{option} `{line}` failed with exit code {rc}: {detail[0]}")

    def exec_in_container(self, pod: dict[str, Any], container: str) -> None:
        """Run stop_process_command in the server container; its own exit status does not matter, as the
        process it stops may take the shell with it."""
        exec_in_pod(
            self.resources.api_client,
            self.p.namespace,
            pod["metadata"]["name"],
            list(self.p.stop_process_command),
            timeout=30,
            container=container,
        )

    # -- the step ---------------------------------------------------------------------------------
    def run(self, check_mode: bool) -> dict[str, Any]:
        p = self.p
        deadline = self.clock() + p.wait_timeout
        before = self.snapshot() if check_mode else self.wait_redundant(deadline)
        p = self.p = self.check_target(before)
        if not before.report["redundant"]:
            raise DrillError(
                f"app {p.name} is not redundant before step {p.step}, so no recovery can be measured: "
                + "; ".join(before.report["reasons"])
            )
        topology = before.report["topology"]
        side = self.resolve_side(before.report if self.p.side in ("a", "b") else self.snapshot(True).report)
        target = choose_target(before.pods, topology, side, p.member)
        node_name = target["spec"]["nodeName"]
        simulated = is_simulated(self.nodes.node(node_name))
        workload, target_side, _member = slot(target)
        result: dict[str, Any] = {
            "changed": False,
            "step": p.step,
            "app": p.name,
            "namespace": p.namespace,
            "topology": topology,
            "simulated_kubelet": simulated,
            "target": {
                "pod": target["metadata"]["name"],
                "node": node_name,
                "side": target_side,
                "workload": workload,
            },
        }
        skipped = self.not_exercised(topology, simulated, target)
        if skipped:
            return {
                **result,
                "exercised": False,
                "reason": skipped,
                "summary": f"{p.step}: not exercised - {skipped}",
            }
        if check_mode:
            return {
                **result,
                "changed": True,
                "exercised": False,
                "summary": f"{p.step}: would disrupt {target['metadata']['name']} on {node_name}",
            }
        result.update(changed=True, exercised=True)
        return self.disrupt_and_judge(result, before, target, deadline)

    def resolve_side(self, state: dict[str, Any]) -> str:
        if self.p.side in ("a", "b") or state["topology"] != "pair":
            return self.p.side
        active = state.get("active_side")
        if active is None:
            raise DrillError(
                f"side={self.p.side}: the active side of {self.p.name} is unknown (no active_probe, or no side or "
                "both sides claim it): give side a or b"
            )
        return active if self.p.side == "active" else {"a": "b", "b": "a"}[active]

    def not_exercised(self, topology: str, simulated: bool, target: dict[str, Any]) -> str:
        if self.p.step == "stop_process" and simulated:
            return (
                f"{target['spec']['nodeName']} has a simulated kubelet (kwok): no container process runs there to "
                "stop, and no liveness probe runs to restart it"
            )
        if self.p.step == "drain_all_servers" and topology == "single":
            return "a single instance has one server and no PodDisruptionBudget: there is no second side to protect"
        return ""

    def disrupt_and_judge(
        self, result: dict[str, Any], before: Snapshot, target: dict[str, Any], deadline: float
    ) -> dict[str, Any]:
        """Disrupt, wait for the recovery, give back what the step took (nodes), judge."""
        container = slot(target)[0] or ""
        claims_before = self.claims_of(target)
        restarts_before = restart_state(target, container)[0]
        done = Disruption()
        try:
            self.disrupt(done, target, before, container, deadline, result["simulated_kubelet"])
            replaced = self.p.step in REPLACING_STEPS or (
                self.p.step == "drain_all_servers"
                and any(e.endswith("/" + target["metadata"]["name"]) for e in done.evicted)
            )
            after, final = self.wait_recovered(
                target, replaced, restarts_before, container, deadline, done.timeline
            )
            if self.p.step == "lose_node":
                done.started = done.timeline.get("last_heartbeat")
            if self.p.step == "stop_process" and after is not None:
                done.started = done.timeline["container_ended"] = restart_state(after, container)[1]
            claims_after = self.claims_of(after) if after is not None else {}
        finally:
            self.give_back(done, target["spec"]["nodeName"], result)
        checks = step_checks(
            self.p.step, target, after, claims_before, claims_after, done.refusals, restarts_before, container
        )
        return self.judge(result, target, after, final, done, claims_before, checks)

    def disrupt(
        self,
        done: Disruption,
        target: dict[str, Any],
        before: Snapshot,
        container: str,
        deadline: float,
        simulated: bool,
    ) -> None:
        """Run the step, recording in `done` as it goes what it changed (so a failure halfway still gives
        the nodes back) and where its start time will come from."""
        p, node_name = self.p, target["spec"]["nodeName"]
        if p.step == "delete_pod":
            done.timeline["deleted"] = done.started = self.delete_pod(target)
            done.source = f"deletion of pod {target['metadata']['name']}"
        elif p.step == "drain":
            done.cordoned = self.nodes.cordon_all([node_name])
            done.timeline["cordoned"] = done.started = self.nodes.cordon_time(node_name)
            done.source = f"cordon of {node_name}"
            done.evicted, done.refusals = self.nodes.drain(node_name, deadline)
        elif p.step == "drain_all_servers":
            servers = server_pods(before.pods)
            nodes = list(dict.fromkeys([node_name] + [s["spec"]["nodeName"] for s in servers]))
            done.cordoned = self.nodes.cordon_all(nodes)
            done.timeline["cordoned"] = done.started = self.nodes.cordon_time(node_name)
            done.source = f"cordon of {', '.join(nodes)}"
            done.evicted, done.refusals = self.nodes.drain_at_once(
                nodes, {pod_ref(s) for s in servers}, simulated
            )
            # The drain was refused: give the nodes back, as an operator would, and let the evicted side return.
            self.nodes.uncordon(done.cordoned)
            done.cordoned = []
        elif p.step == "lose_node":
            self.command("lose_node_command", p.lose_node_command or "", node_name)
            done.lost = True
            done.source = f"last heartbeat of {node_name}"
        else:  # stop_process
            self.exec_in_container(target, container)
            done.source = f"end of container {container} in {target['metadata']['name']}"

    def give_back(self, done: Disruption, node_name: str, result: dict[str, Any]) -> None:
        if done.cordoned and self.p.uncordon:
            self.nodes.uncordon(done.cordoned)
        if done.lost and self.p.restore_node_command:
            result["node_restored"] = self.restore(node_name)

    def judge(
        self,
        result: dict[str, Any],
        target: dict[str, Any],
        after: dict[str, Any] | None,
        final: Snapshot,
        done: Disruption,
        claims_before: dict[str, Any],
        checks: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """The step's report; DrillFailed carrying it when a check failed or the app did not recover."""
        p = self.p
        node_name = target["spec"]["nodeName"]
        end = recovered_at(final.pods) if after is not None else None
        seconds = seconds_between(done.started, end)
        result.update(
            after={"pod": after["metadata"]["name"], "node": after["spec"]["nodeName"]} if after else None,
            started_at=format_time(done.started),
            start_source=done.source,
            recovered_at=format_time(end),
            recovery_seconds=seconds,
            timeline={k: format_time(v) for k, v in done.timeline.items()},
            evicted=done.evicted,
            refusals=done.refusals,
            claims=claims_before,
            checks=checks,
            reasons=final.report["reasons"],
        )
        problems = failed_checks(checks)
        if after is None:
            why = final.report["reasons"] + waiting_in_slot(target, final.pods)
            problems.append(
                f"not redundant again within {p.wait_timeout:g}s: "
                + ("; ".join(why) or "no server pod in its place")
            )
        moved = f" {node_name} -> {after['spec']['nodeName']}," if after is not None else ""
        result["summary"] = (
            f"{p.step}: {target['metadata']['name']}{moved} redundant again {seconds:g} s after the {done.source}"
            if seconds is not None and not problems
            else f"{p.step}: FAILED - " + "; ".join(problems)
        )
        if problems:
            raise DrillFailed(f"drill step {p.step} on {p.name} failed: " + "; ".join(problems), result)
        return result

    def wait_recovered(
        self,
        target: dict[str, Any],
        replaced: bool,
        restarts_before: int,
        container: str,
        deadline: float,
        timeline: dict[str, float | None],
    ) -> tuple[dict[str, Any] | None, Snapshot]:
        """Poll until the app is redundant, every pod Ready, with one in the target's place; (that pod, last snapshot),
        or (None, last snapshot) at the deadline. Records the lost node's detection on the way."""
        node_name = target["spec"]["nodeName"]

        def check() -> tuple[bool, tuple[dict[str, Any] | None, Snapshot]]:
            snap = self.snapshot()
            if self.p.step == "lose_node":
                self.observe_lost_node(node_name, target, timeline)
            after = replacement(target, snap.pods, replaced)
            if after is not None and self.p.step == "stop_process":
                after = after if restart_state(after, container)[0] > restarts_before else None
            # Every live pod Ready too, or the recovery time cannot be read (a companion still starting).
            done = after is not None and snap.report["redundant"] and recovered_at(snap.pods) is not None
            return done, (after if done else None, snap)

        return self.poll(check, deadline)

    def observe_lost_node(
        self, node_name: str, target: dict[str, Any], timeline: dict[str, float | None]
    ) -> None:
        if "node_not_ready" not in timeline:
            ready, changed = node_ready_changed(self.nodes.node(node_name))
            if not ready:
                timeline["node_not_ready"] = changed
                lease = self.resources.get("coordination.k8s.io/v1", "Lease", node_name, "kube-node-lease")
                timeline["last_heartbeat"] = last_heartbeat(lease)
        if "evicted" not in timeline:
            old = self.resources.get("v1", "Pod", target["metadata"]["name"], self.p.namespace)
            started = deletion_started(old) if old else None
            if started is not None:
                timeline["evicted"] = started

    def restore(self, node_name: str) -> bool:
        """Run restore_node_command and wait until the node is Ready and untainted again."""
        self.command("restore_node_command", self.p.restore_node_command or "", node_name)

        def back() -> tuple[bool, bool]:
            node = self.nodes.node(node_name)
            taints = {t.get("key") for t in node.get("spec", {}).get("taints") or []}
            ready = node_ready_changed(node)[0] and not taints & set(LOST_NODE_TAINTS)
            return ready, ready

        if not self.poll(back, self.clock() + self.p.wait_timeout):
            raise DrillError(
                f"node {node_name} not Ready again {self.p.wait_timeout:g}s after restore_node_command"
            )
        return True


def run_step(
    resources: Resources, params: DrillParams, run_command: RunCommand, check_mode: bool
) -> dict[str, Any]:
    return Drill(resources, params, run_command).run(check_mode)
