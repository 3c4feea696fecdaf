"""The playbooks with every example inventory, on the local control plane (real API server, scheduler and
controllers; kubelets simulated by kwok, so pods become Ready without containers).

Each example runs its own pipeline - prerequisite stages for real (storage, keystore, license), the app play
in check mode, then twice for real, then remove.yml - and the pipelines run side by side (they
spend most of their time waiting for the API server), as does the failover drill on a cluster of its own.
Every playbook run costs several seconds, so each run is asserted on by several tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playbook_run import REPO, PlaybookRun, run_playbook

from ansible_collections.redundant.kube.plugins.module_utils.kube.client import (
    ConnectionSettings,
    api_client_from_settings,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import Resources

OUTPUT = REPO / "tests" / "output" / "playbooks"


@dataclass(frozen=True)
class Example:
    inventory: str
    namespace: str
    apps: tuple[str, ...] = ()
    releases: tuple[str, ...] = ()
    backup: bool = False


EXAMPLES = {
    e.inventory: e
    for e in (
        Example("d2000_pair", "scada", apps=("d2000",)),
        Example("iris_single", "iris", apps=("iris",), backup=True),
        Example("midpoint_cluster", "mp-demo", apps=("mp-demo-db", "mp-demo-nfs", "midpoint")),
        Example("dolphindb_helm", "dolphindb", releases=("ddb-test1",)),
        Example("k3s_two_node", "k3s-demo", apps=("broker",)),
    )
}


@dataclass
class Pipeline:
    """The runs of one example, by step name, and what the cluster held between them."""

    runs: dict[str, PlaybookRun] = field(default_factory=dict)
    workloads_after_check: list[str] = field(default_factory=list)
    workloads_after_remove: list[str] = field(default_factory=list)
    claims_after_remove: list[str] = field(default_factory=list)
    snapshots: list[dict[str, Any]] = field(default_factory=list)


def workloads(resources: Resources, namespace: str) -> list[str]:
    if resources.get("v1", "Namespace", namespace) is None:
        return []
    return sorted(
        f"{kind}/{w['metadata']['name']}"
        for kind in ("Deployment", "StatefulSet")
        for w in resources.list("apps/v1", kind, namespace)
    )


def example_pipeline(example: Example, kubeconfig: str) -> Pipeline:
    resources = Resources(api_client_from_settings(ConnectionSettings(kubeconfig=kubeconfig)))
    pipeline = Pipeline()

    def run(step: str, playbook: str, **kwargs: Any) -> PlaybookRun:
        result = run_playbook(playbook, example.inventory, kubeconfig, limit="localhost", **kwargs)
        pipeline.runs[step] = result
        return result

    # The stages the app needs first (storage classes, keystore, license), for real.
    if run("prepare", "site.yml", skip_tags="app").rc != 0:
        return pipeline
    if run("check", "app.yml", check=True, diff=True).rc != 0:
        return pipeline
    pipeline.workloads_after_check = workloads(resources, example.namespace)
    # Twice in one process: the second run must change nothing.
    if run("deploy", ["app.yml", "app.yml"]).rc != 0:
        return pipeline
    if example.backup:
        run("backup", "backup.yml")
        pipeline.snapshots = resources.list("snapshot.storage.k8s.io/v1", "VolumeSnapshot", example.namespace)
    run("remove", "remove.yml")
    pipeline.workloads_after_remove = workloads(resources, example.namespace)
    pipeline.claims_after_remove = sorted(
        c["metadata"]["name"] for c in resources.list("v1", "PersistentVolumeClaim", example.namespace)
    )
    return pipeline


def step(background: Background, name: str, what: str) -> PlaybookRun:
    pipeline: Pipeline = background.examples[name].result()
    assert what in pipeline.runs, f"{name}: step {what} did not run; earlier steps: " + "; ".join(
        f"{k}: {r.explain()}" for k, r in pipeline.runs.items() if r.rc != 0
    )
    return pipeline.runs[what]


@pytest.mark.parametrize("name", EXAMPLES)
def test_prerequisite_stages_run_for_real(background, name):
    prepare = step(background, name, "prepare")
    assert prepare.rc == 0, prepare.explain()
    cluster = prepare.results("Check the nodes")
    assert cluster and cluster[0]["problems"] == [], prepare.explain()


@pytest.mark.parametrize("name", EXAMPLES)
def test_app_play_in_check_mode_reports_changes_and_creates_nothing(background, name):
    check = step(background, name, "check")
    assert check.rc == 0, check.explain()
    example = EXAMPLES[name]
    deployed = check.results("Deploy the app") + check.results("Install the Helm releases")
    assert len(deployed) == len(example.apps) + len(example.releases)
    assert all(r.get("changed") for r in deployed), check.explain()
    assert background.examples[name].result().workloads_after_check == []


@pytest.mark.parametrize("name", EXAMPLES)
def test_app_play_deploys_every_app_redundant_simulated_kubelet(background, name):
    deploy = step(background, name, "deploy")
    assert deploy.rc == 0, deploy.explain()
    example = EXAMPLES[name]
    infos = deploy.results("Read each app's pods and redundancy")[: len(example.apps)]
    assert [i["item"]["name"] for i in infos] == list(example.apps)
    for info in infos:
        assert info["redundant"], f"{info['item']['name']}: {info['reasons']}"
        assert info["pods"] and all(p["node"] and p["ready"] for p in info["pods"])
    for release in deploy.results("Read each Helm release's pods")[: len(example.releases)]:
        pods = release["resources"]
        assert pods and all(p["status"]["phase"] == "Running" for p in pods)
        # The chart prefers one data node per node, and the scheduler honoured it.
        assert len({p["spec"]["nodeName"] for p in pods}) == len(pods)
    report = deploy.results("Report where every pod runs")[0]["msg"]
    for app in example.apps + example.releases:
        assert any(line.startswith(app + " ") for line in report), report


@pytest.mark.parametrize("name", EXAMPLES)
def test_app_play_run_again_changes_nothing(background, name):
    deploy = step(background, name, "deploy")
    assert deploy.rc == 0, deploy.explain()
    example = EXAMPLES[name]
    count = len(example.apps) + len(example.releases)
    runs_again = (
        deploy.results("Deploy the app")[len(example.apps) :]
        + deploy.results("Install the Helm releases")[len(example.releases) :]
    )
    assert len(runs_again) == count and not any(r.get("changed") for r in runs_again), [
        (r.get("item", {}).get("name"), r.get("objects")) for r in runs_again if r.get("changed")
    ]
    # The up-front offline rendering is a check: it never reports a change, on either run.
    rendered = deploy.results("Render the app offline")
    assert len(rendered) == 2 * len(example.apps) and not any(r.get("changed") for r in rendered)


@pytest.mark.parametrize("name", EXAMPLES)
def test_remove_play_deletes_workloads_and_keeps_claims(background, name):
    remove = step(background, name, "remove")
    assert remove.rc == 0, remove.explain()
    pipeline: Pipeline = background.examples[name].result()
    assert pipeline.workloads_after_remove == []
    if EXAMPLES[name].apps:
        kept = [c for r in remove.results("Remove the apps") for c in r["kept_volumes"]]
        # The two-node K3S example's volumes are inline NFS through the HA pair's VIP: it has no claims.
        assert kept or name == "k3s_two_node"
        assert sorted(kept) == [c for c in pipeline.claims_after_remove if c in kept]


def test_backup_play_takes_a_volume_snapshot_of_the_iris_claim(background):
    backup = step(background, "iris_single", "backup")
    assert backup.rc == 0, backup.explain()
    snapshots = background.examples["iris_single"].result().snapshots
    assert [s["spec"]["source"]["persistentVolumeClaimName"] for s in snapshots] == ["iris-sys"]
    assert snapshots[0]["spec"]["volumeSnapshotClassName"] == "longhorn"
    said = " ".join(
        str(r.get("msg")) for r in backup.results("Say why the freeze and thaw commands do not run")
    )
    assert "simulated kubelet" in said


# -- the failover drill -----------------------------------------------------------------------------
@dataclass
class DrillRuns:
    deploy: PlaybookRun
    drill: PlaybookRun | None = None
    report: list[dict[str, Any]] = field(default_factory=list)
    iris_deploy: PlaybookRun | None = None
    iris_drill: PlaybookRun | None = None
    iris_report: list[dict[str, Any]] = field(default_factory=list)
    loose_budget: PlaybookRun | None = None
    loose_budget_report: list[dict[str, Any]] = field(default_factory=list)


def drill_pipeline(start_cluster: Callable, workdir: Path) -> DrillRuns:
    """What `make demo` does (site.yml with inventories/local), then drill.yml against the D2000 pair; then
    the IRIS single instance's drill; then the pair's drill once more without its disruption budget."""
    cluster = start_cluster(nodes=3)
    kubeconfig = cluster.kubeconfig
    runs = DrillRuns(deploy=run_playbook("site.yml", "local", kubeconfig))
    if runs.deploy.rc != 0:
        return runs
    report = workdir / "d2000.json"
    runs.drill = run_playbook("drill.yml", "local", kubeconfig, {"rk_drill_report": str(report)})
    runs.report = json.loads(report.read_text()) if report.exists() else []
    # The IRIS single instance's drill: its pod must move with its data when its node is lost.
    iris = {"iris_failover_seconds": 10}
    runs.iris_deploy = run_playbook("site.yml", "iris_single", kubeconfig, iris, limit="localhost")
    if runs.iris_deploy.rc == 0:
        report = workdir / "iris.json"
        runs.iris_drill = run_playbook(
            "drill.yml",
            "iris_single",
            kubeconfig,
            {
                **iris,
                "rk_drill_report": str(report),
                "rk_drill_steps": ["stop_process", "delete_pod", "lose_node"],
            },
        )
        runs.iris_report = json.loads(report.read_text()) if report.exists() else []
    # A check that must be able to fail: with a disruption budget that allows both servers to go (app_info
    # still sees a budget, so the drill starts), draining both sides at once is not refused.
    Resources(api_client_from_settings(ConnectionSettings(kubeconfig=kubeconfig))).merge_patch(
        "policy/v1", "PodDisruptionBudget", "d2000-server", "scada", {"spec": {"minAvailable": 0}}
    )
    report = workdir / "loose-budget.json"
    runs.loose_budget = run_playbook(
        "drill.yml",
        "local",
        kubeconfig,
        {"rk_drill_report": str(report), "rk_drill_steps": ["drain_all_servers"]},
    )
    runs.loose_budget_report = json.loads(report.read_text()) if report.exists() else []
    return runs


@dataclass
class Background:
    """Futures of the example pipelines and of the drill, all started when this module's first test runs."""

    examples: dict[str, Future]
    drill: Future


@pytest.fixture(scope="module")
def background(kube_cluster, make_cluster, tmp_path_factory) -> Background:
    pool = ThreadPoolExecutor(max_workers=len(EXAMPLES) + 1)
    started = Background(
        examples={
            name: pool.submit(example_pipeline, e, kube_cluster.kubeconfig) for name, e in EXAMPLES.items()
        },
        drill=pool.submit(drill_pipeline, make_cluster, tmp_path_factory.mktemp("drill")),
    )
    yield started
    pool.shutdown(wait=True)
    print_durations(started)


def print_durations(started: Background) -> None:
    """How long each playbook run took (a figure for docs/testing.md, not an assertion)."""
    lines = [
        f"  {name:<17} {step:<8} {run.seconds:5.0f} s"
        for name, future in started.examples.items()
        if future.done() and not future.exception()
        for step, run in future.result().runs.items()
    ]
    publish(None, "durations", "playbook runs of the example pipelines (run side by side):", lines)


def by_step(report: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["step"]: r for r in report}


def publish(capsys: pytest.CaptureFixture | None, name: str, title: str, lines: list[str]) -> None:
    """Measured figures are printed (also when pytest captures output) and kept in tests/output/playbooks/,
    never asserted on."""
    text = "\n".join([title, *lines]) + "\n"
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / f"{name}.txt").write_text(text)
    if capsys is None:
        print("\n" + text)
    else:
        with capsys.disabled():
            print("\n" + text)


def print_recovery(
    capsys: pytest.CaptureFixture, name: str, title: str, report: list[dict[str, Any]]
) -> None:
    lines = [f"  {r['step']:<18} {r.get('recovery_seconds')!s:>6} s  {r['summary']}" for r in report]
    publish(capsys, name, title, lines)


def test_make_demo_path_deploys_the_d2000_pair_simulated_kubelet(background):
    runs: DrillRuns = background.drill.result()
    assert runs.deploy.rc == 0, runs.deploy.explain()
    (d2000,) = runs.deploy.results("Read each app's pods and redundancy")
    assert d2000["redundant"], d2000["reasons"]
    servers = {p["side"]: p["node"] for p in d2000["pods"] if p["kind"] == "server"}
    assert servers["a"] != servers["b"]
    for pod in d2000["pods"]:
        assert pod["node"] == servers[pod["side"]], f"{pod['name']} is not beside its server"


def test_drill_of_the_d2000_pair_recovers_from_every_step_simulated_kubelet(background, capsys):
    runs: DrillRuns = background.drill.result()
    assert runs.drill is not None and runs.drill.rc == 0, runs.drill.explain() if runs.drill else "not run"
    steps = by_step(runs.report)
    print_recovery(
        capsys, "drill-d2000", "D2000 pair drill (local control plane, simulated kubelets):", runs.report
    )
    assert list(steps) == ["stop_process", "delete_pod", "drain", "drain_all_servers", "lose_node"]
    for name in ("delete_pod", "drain", "drain_all_servers", "lose_node"):
        step_report = steps[name]
        assert step_report["exercised"] and all(c["ok"] for c in step_report["checks"]), step_report
        assert step_report["recovery_seconds"] is not None and step_report["claims"], step_report
    assert steps["drain"]["after"]["node"] != steps["drain"]["target"]["node"]
    assert steps["lose_node"]["after"]["node"] != steps["lose_node"]["target"]["node"]
    assert steps["lose_node"]["node_restored"]
    (refused,) = steps["drain_all_servers"]["refusals"]
    assert refused["status"] == 429 and "d2000-server-" in refused["pod"]


def test_drill_reports_stop_process_as_not_exercised_simulated_kubelet(background):
    runs: DrillRuns = background.drill.result()
    stop = by_step(runs.report)["stop_process"]
    assert stop["exercised"] is False and stop["simulated_kubelet"] is True
    assert "simulated kubelet" in stop["reason"]


def test_drill_of_the_iris_single_instance_moves_it_with_its_data_simulated_kubelet(background, capsys):
    runs: DrillRuns = background.drill.result()
    assert runs.iris_deploy is not None and runs.iris_deploy.rc == 0, runs.iris_deploy.explain()
    assert runs.iris_drill is not None and runs.iris_drill.rc == 0, runs.iris_drill.explain()
    print_recovery(
        capsys, "drill-iris", "IRIS single instance drill (failover toleration 10 s):", runs.iris_report
    )
    lost = by_step(runs.iris_report)["lose_node"]
    assert lost["after"]["node"] != lost["target"]["node"]
    assert list(lost["claims"]) == ["iris-sys"]
    assert all(c["ok"] for c in lost["checks"])


def test_drill_fails_when_the_disruption_budget_lets_both_sides_go(background):
    runs: DrillRuns = background.drill.result()
    assert runs.loose_budget is not None and runs.loose_budget.rc != 0
    (step_report,) = runs.loose_budget_report
    failed = [c for c in step_report["checks"] if not c["ok"]]
    assert [c["check"] for c in failed] == ["disruption budget refused"]
    assert step_report["refusals"] == []


# -- bad input: the first play stops the run, listing what is missing ---------------------------------
def test_missing_variables_are_listed_in_the_first_play_before_anything_runs(tmp_path):
    empty = tmp_path / "hosts.yml"
    empty.write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n")
    drill = run_playbook("drill.yml", str(empty), local_facts=False)
    assert drill.rc != 0
    (failure,) = list(drill.failures())
    assert "Validating arguments" in failure and "rk_drill_app, rk_drill_namespace" in failure
    site = run_playbook("site.yml", str(empty), local_facts=False)
    assert site.rc != 0
    (failure,) = list(site.failures())
    assert "missing required arguments: rk_apps" in failure
    assert [p["play"]["name"] for p in site.output["plays"]] == [
        "Check the inventory for every stage before anything changes"
    ]


def test_a_bad_app_spec_fails_the_first_play_naming_the_app(tmp_path):
    bad = {
        "d2000_storage_class": "replicated",
        "rk_apps": [
            {
                "name": "broken",
                "topology": "pair",
                "server": {"image": "busybox:1.36"},
                "companions": [{"name": "server", "image": "busybox:1.36"}],
            }
        ],
    }
    run = run_playbook("app.yml", "d2000_pair", extra_vars=bad, local_facts=False)
    assert run.rc != 0
    failures = list(run.failures())
    assert len(failures) == 1 and "Render the app offline" in failures[0] and "companions" in failures[0]
    assert [p["play"]["name"] for p in run.output["plays"]] == ["Check the app stage's variables"]


def test_a_misspelt_app_option_is_refused_not_dropped():
    run = run_playbook(
        "app.yml",
        "iris_single",
        extra_vars={"rk_apps": [{"name": "iris", "topolgy": "single"}]},
        local_facts=False,
    )
    assert run.rc != 0
    assert any("rk_apps.topolgy" in f for f in run.failures()), run.explain()


def test_site_check_mode_on_a_fresh_cluster_names_what_earlier_stages_would_create(make_cluster):
    """site.yml --check before anything exists: the license ConfigMap and the Secret the d2000 pods mount do
    not exist (their stages only dry-run), so the app stage reports them as missing dependencies instead of
    failing; a real app.yml run without them still fails, naming the first one."""
    cluster = make_cluster(nodes=3)
    resources = Resources(api_client_from_settings(ConnectionSettings(kubeconfig=cluster.kubeconfig)))
    check = run_playbook("site.yml", "d2000_pair", cluster.kubeconfig, check=True, limit="localhost")
    assert check.rc == 0, check.explain()
    (deployed,) = check.results("Deploy the app")
    assert deployed["changed"]
    assert [m.split(" does not exist")[0] for m in deployed["missing_dependencies"]] == [
        "license: ConfigMap d2000-license",
        "env_from_secrets: Secret d2000-db",
    ], deployed["missing_dependencies"]
    assert all("(check mode: " in m for m in deployed["missing_dependencies"])
    assert resources.get("v1", "Namespace", "scada") is None
    real = run_playbook("app.yml", "d2000_pair", cluster.kubeconfig, limit="localhost")
    assert real.rc != 0
    failures = list(real.failures())
    assert (
        len(failures) == 1
        and "ConfigMap d2000-license does not exist in namespace scada: create it first" in (failures[0])
    ), real.explain()


def test_cluster_play_refuses_a_bad_k3s_inventory_before_touching_any_host(tmp_path):
    """The k3s_two_node hosts do not exist here: any contact would show as unreachable."""
    standin = tmp_path / "k3s-standin"
    standin.write_text("NOT K3S: a stand-in file for the checksum check\n")
    wrong = {"k3s_binary_file": str(standin), "k3s_binary_checksum": "sha256:" + "0" * 64}
    run = run_playbook("cluster.yml", "k3s_two_node", extra_vars=wrong, local_facts=False)
    assert run.rc != 0
    failures = list(run.failures())
    assert failures and all("k3s_binary_checksum" in f for f in failures), run.explain()
    assert all(run.output["stats"][host]["unreachable"] == 0 for host in ("k3s-1", "k3s-2"))


# -- node DNS: what the controller checks before any node is contacted --------------------------------
def node_dns_inventory(tmp_path: Path, **node_vars: Any) -> str:
    """localhost, and one node that does not exist (192.0.2.0/24 is TEST-NET): contact shows as unreachable."""
    inventory = {
        "all": {
            "hosts": {
                "localhost": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                }
            },
            "children": {"k8s_nodes": {"hosts": {"node-1": {"ansible_host": "192.0.2.10", **node_vars}}}},
        }
    }
    path = tmp_path / "hosts.yml"
    path.write_text(json.dumps(inventory))
    return str(path)


def cluster_dns_service(resources: Resources, namespace: str) -> str:
    """A cluster DNS Service with one ready endpoint, as CoreDNS's looks; its cluster IP."""
    service = resources.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "cluster-dns", "namespace": namespace},
            "spec": {"ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]},
        }
    )
    resources.apply(
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "cluster-dns-1",
                "namespace": namespace,
                "labels": {
                    "kubernetes.io/service-name": "cluster-dns",
                    "endpointslice.kubernetes.io/managed-by": "redundant.kube-test",
                },
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": True}}],
            "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}],
        }
    )
    return service["spec"]["clusterIP"]


def test_node_dns_refuses_an_address_that_is_not_the_cluster_dns_before_touching_the_node(
    kube_cluster, resources, namespace, tmp_path
):
    cluster_ip = cluster_dns_service(resources, namespace)
    extra = {"rk_kubeconfig": kube_cluster.kubeconfig, "rk_cluster_dns_service": f"{namespace}/cluster-dns"}
    run = run_playbook(
        "node_dns.yml",
        node_dns_inventory(tmp_path, dns_resolver_cluster_dns_ip="10.43.0.10"),
        extra_vars=extra,
    )
    assert run.rc != 0
    assert list(run.failures()) == [
        f"node-1 The inventory's cluster DNS address is the cluster's: dns_resolver_cluster_dns_ip: 10.43.0.10 is "
        f"not the address of the cluster DNS Service {namespace}/cluster-dns, {cluster_ip}: set it to "
        f"{cluster_ip} or leave it unset (the address is read from the cluster)"
    ], run.explain()
    assert run.output["stats"]["node-1"]["unreachable"] == 0

    # A node whose resolver the node stage left alone is not routed either: every task skipped.
    skipped = run_playbook(
        "node_dns.yml", node_dns_inventory(tmp_path, node_prep_dns_resolver=False), extra_vars=extra
    )
    assert skipped.rc == 0, skipped.explain()
    assert (
        skipped.output["stats"]["node-1"]["ok"] == 0 and skipped.output["stats"]["node-1"]["unreachable"] == 0
    )

    # A run limited to the controller (site.yml --limit localhost) leaves the nodes alone.
    limited = run_playbook(
        "node_dns.yml",
        node_dns_inventory(tmp_path, dns_resolver_cluster_dns_ip="10.43.0.10"),
        extra_vars=extra,
        limit="localhost",
    )
    assert limited.rc == 0 and "node-1" not in limited.output["stats"], limited.explain()


def test_node_dns_fails_naming_the_service_when_the_cluster_has_no_dns(kube_cluster, namespace, tmp_path):
    extra = {"rk_kubeconfig": kube_cluster.kubeconfig, "rk_cluster_dns_service": f"{namespace}/cluster-dns"}
    run = run_playbook("node_dns.yml", node_dns_inventory(tmp_path), extra_vars=extra)
    assert run.rc != 0
    (failure,) = list(run.failures())
    assert failure.startswith(
        f"node-1 Fail when the cluster has no such Service: rk_cluster_dns_service: the cluster has no "
        f"Service {namespace}/cluster-dns"
    ), run.explain()
    assert run.output["stats"]["node-1"]["unreachable"] == 0


def test_node_dns_refuses_a_service_reference_without_its_namespace(kube_cluster, tmp_path):
    extra = {"rk_kubeconfig": kube_cluster.kubeconfig, "rk_cluster_dns_service": "kube-dns"}
    run = run_playbook("node_dns.yml", node_dns_inventory(tmp_path), extra_vars=extra)
    assert run.rc != 0
    assert list(run.failures()) == [
        'node-1 The cluster DNS Service is named namespace/name: rk_cluster_dns_service: "kube-dns" is not '
        "namespace/name (example: kube-system/kube-dns)"
    ], run.explain()
