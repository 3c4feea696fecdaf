"""The dolphindb_helm example inventory on running containers: its Helm release (the stand-in chart of
tests/charts/ddb-cluster, with the dolphindb-mgr chart's license names) running the DolphinDB-like data node
(`localhost/redundant-kube-test/dolphindb`, tests/realnodes/apps/dolphindb: NOT DolphinDB), and license.yml's
pushes as the processes see them. The example is changed only by EXTRA_VARS (image, storage class) on top of
the local control plane's facts file (kubeconfig, helm).

Realnodes tier only: tests/realnodes is not in pytest's testpaths, `make test-realnodes` runs it on the
real-node cluster (tests/realnodes/conftest.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from conftest import DeployedExample, RealNodes
from playbook_run import PlaybookRun, run_playbook

RELEASE = "ddb-test1"


def extra_vars(realnodes: RealNodes, namespace: str) -> dict:
    return {
        "dolphindb_namespace": namespace,
        "dolphindb_image": realnodes.images["test-dolphindb"],
        "dolphindb_storage_class": "local-path",
        "dolphindb_service_type": "ClusterIP",  # NodePorts are the cluster test's; nothing here reaches them
    }


def run(realnodes: RealNodes, playbooks: list[str], variables: dict) -> PlaybookRun:
    return run_playbook(playbooks, "dolphindb_helm", str(realnodes.cluster.kubeconfig), variables)


@pytest.fixture(scope="module")
def dolphindb(realnodes: RealNodes) -> Iterator[DeployedExample]:
    namespace = f"rn-ddb-{uuid.uuid4().hex[:6]}"
    variables = extra_vars(realnodes, namespace)
    try:
        yield DeployedExample(namespace, variables, run(realnodes, ["license.yml", "app.yml"], variables))
    finally:
        realnodes.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def data_nodes(realnodes: RealNodes, namespace: str) -> dict[str, dict]:
    pods = realnodes.get("pods", "-n", namespace, "-l", f"app.kubernetes.io/instance={RELEASE}")["items"]
    return {p["metadata"]["name"]: p for p in pods if not p["metadata"].get("deletionTimestamp")}


def reported(realnodes: RealNodes, namespace: str, pod: str) -> dict:
    return json.loads(
        realnodes.kubectl("exec", "-n", namespace, pod, "--", "curl", "-s", "http://127.0.0.1:8848/")
    )


def all_report(realnodes: RealNodes, namespace: str, license_text: str) -> bool:
    pods = data_nodes(realnodes, namespace)
    return len(pods) == 3 and all(
        p["status"].get("containerStatuses")
        and all(c["ready"] for c in p["status"]["containerStatuses"])
        and reported(realnodes, namespace, name)["license"] == license_text
        for name, p in pods.items()
    )


def test_release_runs_with_the_license_the_example_pushes_and_reruns_restart_nothing(realnodes, dolphindb):
    assert dolphindb.first.rc == 0, dolphindb.first.explain()
    license_map = realnodes.get("configmap", "dolphindb-license", "-n", dolphindb.namespace)
    assert list(license_map["data"]) == ["dolphindb.lic"]  # the dolphindb-mgr chart's names
    pods = data_nodes(realnodes, dolphindb.namespace)
    assert len({p["spec"]["nodeName"] for p in pods.values()}) == 3
    for name in pods:
        state = reported(realnodes, dolphindb.namespace, name)
        assert (
            state["license"] == license_map["data"]["dolphindb.lic"] and state["core_dir"] == "/data/ddb/core"
        )
    before = {n: p["status"]["containerStatuses"][0]["containerID"] for n, p in pods.items()}

    again = run(realnodes, ["license.yml", "app.yml"], dolphindb.extra_vars)
    assert again.rc == 0, again.explain()
    after = {
        n: p["status"]["containerStatuses"][0]["containerID"]
        for n, p in data_nodes(realnodes, dolphindb.namespace).items()
    }
    assert after == before


def test_license_push_reaches_every_data_node_and_a_refused_license_rolls_back(realnodes, dolphindb):
    assert dolphindb.first.rc == 0, dolphindb.first.explain()
    new = "customer=realnodes\nexpiration=2031-01-01\n"
    push = run(realnodes, ["license.yml"], {**dolphindb.extra_vars, "rk_license_content": new})
    assert push.rc == 0, push.explain()
    realnodes.wait(
        "every data node reporting the new license", lambda: all_report(realnodes, dolphindb.namespace, new)
    )

    refused = run(
        realnodes,
        ["license.yml"],
        {
            **dolphindb.extra_vars,
            "rk_license_content": "customer=realnodes\nvalid=false\n",
            "rk_license_rollback": True,
            # Long enough for a data node with a good license to be Ready (its probe looks every 2 s), and for
            # the rollback's restart, which waits as long.
            "rk_license_wait_timeout": 25,
        },
    )
    assert refused.rc != 0
    assert any("rolled back" in f for f in refused.failures()), refused.explain()
    live = realnodes.get("configmap", "dolphindb-license", "-n", dolphindb.namespace)["data"]["dolphindb.lic"]
    assert live == new
    realnodes.wait(
        "every data node back on the previous license",
        lambda: all_report(realnodes, dolphindb.namespace, new),
    )
