"""The iris_single example inventory on running containers, with the IRIS-like test application
(`localhost/redundant-kube-test/iris`, tests/realnodes/apps/iris: NOT InterSystems IRIS, a small program that
behaves like it where the collection relies on it). The example is changed only by EXTRA_VARS: the image,
this cluster's storage class and the kubeconfig.

Realnodes tier only: tests/realnodes is not in pytest's testpaths, `make test-realnodes` runs it on the
real-node cluster (tests/realnodes/conftest.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import DeployedExample, RealNodes, figure
from playbook_run import run_playbook


def extra_vars(realnodes: RealNodes, namespace: str) -> dict:
    """What points the example at this cluster, and nothing else."""
    return {
        "rk_kubeconfig": str(realnodes.cluster.kubeconfig),
        "iris_namespace": namespace,
        "iris_image": realnodes.images["test-iris"],
        "iris_storage_class": "local-path",  # the cluster's provisioner (replicated storage: the VM tier)
    }


@pytest.fixture(scope="module")
def iris(realnodes: RealNodes) -> Iterator[DeployedExample]:
    namespace = f"rn-iris-{uuid.uuid4().hex[:6]}"
    variables = extra_vars(realnodes, namespace)
    try:
        yield DeployedExample(
            namespace, variables, run_playbook("app.yml", "iris_single", extra_vars=variables)
        )
    finally:
        realnodes.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def the_pod(realnodes: RealNodes, namespace: str) -> dict:
    (pod,) = [
        p
        for p in realnodes.get("pods", "-n", namespace, "-l", "app.kubernetes.io/instance=iris")["items"]
        if not p["metadata"].get("deletionTimestamp")
    ]
    return pod


def iris_session(realnodes: RealNodes, namespace: str, command: str) -> str:
    pod = the_pod(realnodes, namespace)["metadata"]["name"]
    return realnodes.kubectl(
        "exec", "-n", namespace, pod, "--", "iris", "session", "iris", "-U", "USER", command
    )


def test_iris_example_runs_merges_its_cpf_and_a_second_run_restarts_nothing(realnodes: RealNodes, iris):
    assert iris.first.rc == 0, iris.first.explain()
    pod = the_pod(realnodes, iris.namespace)
    (status,) = pod["status"]["containerStatuses"]
    assert status["ready"] and "running" in status["state"], status
    applied = realnodes.kubectl(
        "exec", "-n", iris.namespace, pod["metadata"]["name"], "--", "cat", "/external/iris/cpf-applied.json"
    )
    assert json.loads(applied) == {"globals": "0,0,800,0,0,0", "gmheap": "256000"}  # the example's merge file
    claim = realnodes.get("pvc", "iris-sys", "-n", iris.namespace)
    assert claim["status"]["phase"] == "Bound" and claim["spec"]["storageClassName"] == "local-path"

    again = run_playbook("app.yml", "iris_single", extra_vars=iris.extra_vars)
    assert again.rc == 0, again.explain()
    assert not any(r.get("changed") for r in again.results("Deploy the app"))
    (after,) = the_pod(realnodes, iris.namespace)["status"]["containerStatuses"]
    assert (after["containerID"], after["restartCount"]) == (status["containerID"], status["restartCount"])


def test_iris_drill_stops_the_process_and_deletes_the_pod_and_the_data_stays(
    realnodes: RealNodes, iris, tmp_path: Path
):
    assert iris.first.rc == 0, iris.first.explain()
    iris_session(realnodes, iris.namespace, 'set ^drill="written before the drill"')
    report = tmp_path / "iris-drill.json"
    drill = run_playbook(
        "drill.yml",
        "iris_single",
        extra_vars={
            **iris.extra_vars,
            "rk_drill_steps": ["stop_process", "delete_pod"],
            "rk_drill_report": str(report),
        },
    )
    assert drill.rc == 0, drill.explain()
    steps = {s["step"]: s for s in json.loads(report.read_text())}
    # stop_process: `iris stop iris` took the instance down, the liveness probe restarted the container in place.
    assert "container restarted in place" in [c["check"] for c in steps["stop_process"]["checks"]]
    assert all(c["ok"] for step in steps.values() for c in step["checks"]), steps
    for name, step in steps.items():
        figure(f"iris drill {name}: recovered in {step.get('recovery_seconds')} s")
    assert iris_session(realnodes, iris.namespace, "write ^drill").strip() == "written before the drill"
