"""The AWX path for real: `ansible-runner` on a private data directory shaped like the one AWX hands to an
execution environment - project with the playbooks, inventory, env/envvars with the Kubernetes credential
(K8S_AUTH_HOST, K8S_AUTH_API_KEY, K8S_AUTH_VERIFY_SSL, K8S_AUTH_SSL_CA_CERT), env/extravars - and no
kubeconfig anywhere, against the local control plane (real API server and RBAC; kubelets simulated by kwok).

The token is a ServiceAccount's, bound to exactly the shipped least-privilege manifest docs/awx-rbac.yaml (its
drill part included): under it the keystore, license and app playbooks of the D2000 pair example run through,
then app.yml again with the log volume grown (the offline volume growth: workloads scaled to 0, claims
patched), then drill.yml's delete_pod and drain steps; the DolphinDB example's license and app playbooks
(a Helm release), then a new license (members restarted by deleting their pods) run under a token of that
namespace's copy. Actions outside the rights are refused with the
API's "forbidden" message naming the verb and the resource.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_run import BIN, REPO, ansible_environment

from ansible_collections.redundant.kube.plugins.module_utils.kube.client import (
    ConnectionSettings,
    api_client_from_settings,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import Resources

NAMESPACE = "scada"  # the d2000_pair example's namespace
DDB_NAMESPACE = "dolphindb"  # the dolphindb_helm example's
SERVICE_ACCOUNT = "redundant-kube"
# A keystore as midPoint's, so that the keystore module runs too (the D2000 example has none).
EXTRA_VARS = {
    "rk_keystores": [
        {
            "name": "awx-keystore",
            "namespace": NAMESPACE,
            "type": "jceks",
            "store_password": "changeit",
            "entries": [{"alias": "default", "size": 128, "key_password": "midpoint"}],
        }
    ],
    # The drill steps the simulated kubelets can show (stop_process needs a running process, lose_node a
    # command that stops a node); a drain evicts through the Eviction API and cordons the node.
    "rk_drill_steps": ["delete_pod", "drain"],
    "rk_drill_wait_timeout": 60,
}
# The two read-only modules, after the deployment, as a report job would run them.
REPORT = {
    "name": "Report",
    "hosts": "localhost",
    "gather_facts": False,
    "tasks": [
        {
            "name": "Which side is active",
            "redundant.kube.app_info": {"name": "d2000", "namespace": NAMESPACE},
        },
        {
            "name": "Every node Ready",
            "redundant.kube.cluster_info": {"expected_nodes": ["node-1", "node-2", "node-3"]},
        },
    ],
}


def outside_task(name: str, task: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, **task, "ignore_errors": True}


# Actions outside the rights: the keystore, a Helm release and a drill in a namespace the account has no rights
# in (the drill's cluster-wide rights reach nodes and evictions, not another namespace's workloads), and a
# cluster-wide object of the kind storage.yml makes (a StorageClass).
OUTSIDE = [
    {
        "name": "Actions outside the granted rights",
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [
            outside_task(
                "Keystore in kube-system",
                {
                    "redundant.kube.keystore": {
                        "name": "not-allowed",
                        "namespace": "kube-system",
                        "store_password": "changeit",
                        "entries": [{"alias": "default", "size": 128, "key_password": "x"}],
                    }
                },
            ),
            outside_task(
                "Helm release in kube-system",
                {
                    "kubernetes.core.helm": {
                        "name": "not-allowed",
                        "release_namespace": "kube-system",
                        "chart_ref": str(REPO / "tests/charts/ddb-cluster"),
                        "binary_path": "{{ rk_helm_binary }}",
                    }
                },
            ),
            outside_task(
                "Drill in kube-system",
                {"redundant.kube.drill": {"name": "d2000", "namespace": "kube-system", "step": "delete_pod"}},
            ),
            outside_task(
                "A StorageClass",
                {
                    "kubernetes.core.k8s": {
                        "definition": {
                            "apiVersion": "storage.k8s.io/v1",
                            "kind": "StorageClass",
                            "metadata": {"name": "not-allowed"},
                            "provisioner": "example.com/none",
                        }
                    }
                },
            ),
        ],
    }
]


def account(namespace: str) -> str:
    return f"system:serviceaccount:{namespace}:{SERVICE_ACCOUNT}"


def admin(kubeconfig: str) -> Resources:
    return Resources(api_client_from_settings(ConnectionSettings(kubeconfig=kubeconfig)))


def grant_least_privilege(resources: Resources, namespace: str) -> str:
    """Apply docs/awx-rbac.yaml for one namespace and return a token of its ServiceAccount."""
    resources.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    manifest = (REPO / "docs/awx-rbac.yaml").read_text().replace("APP_NAMESPACE", namespace)
    for document in yaml.safe_load_all(manifest):
        resources.apply(document)
    request = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": 3600},
    }
    answer = resources.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{SERVICE_ACCOUNT}/token",
        body=request,
        what="a token of the ServiceAccount",
    )
    return answer["status"]["token"]


def grown_apps() -> list[dict[str, Any]]:
    """The D2000 example's rk_apps with its log volume grown from 2Gi to 3Gi."""
    group_vars = yaml.safe_load((REPO / "inventories/d2000_pair/group_vars/all/d2000_pair.yml").read_text())
    apps = group_vars["rk_apps"]
    [log] = apps[0]["volumes"]
    assert log["size"] == "2Gi", "the example's log volume changed: update this test"
    log["size"] = "3Gi"
    return apps


def d2000_job() -> dict[str, list[dict[str, Any]]]:
    """What the D2000 job templates run: the collection's playbooks by their names, in site.yml's order, the
    report; then app.yml with the volume grown, and the drill."""
    imports = ["redundant.kube.keystore", "redundant.kube.license", "redundant.kube.app"]
    return {
        "deploy.yml": [{"name": p, "ansible.builtin.import_playbook": p} for p in imports]
        + [
            REPORT,
            {
                "name": "App with its volume grown",
                "ansible.builtin.import_playbook": "redundant.kube.app",
                "vars": {"rk_apps": grown_apps()},
            },
            {"name": "Drill", "ansible.builtin.import_playbook": "redundant.kube.drill"},
        ],
        "outside.yml": OUTSIDE,
    }


def ddb_job(helm: Path) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """The DolphinDB example's license and app playbooks (the app is a Helm release), then license.yml with a
    new license (its members restarted by deleting their pods, one at a time); and its extra vars."""
    imports = ["redundant.kube.license", "redundant.kube.app"]
    extra_vars = {
        "dolphindb_chart_path": str(REPO / "tests/charts/ddb-cluster"),
        "rk_helm_binary": str(helm),
    }
    renewal = {
        "name": "A new license",
        "ansible.builtin.import_playbook": "redundant.kube.license",
        "vars": {"rk_license_content": "renewed dolphindb.lic of the dolphindb_helm example\n"},
    }
    plays = [{"name": p, "ansible.builtin.import_playbook": p} for p in imports] + [renewal]
    return {"deploy.yml": plays}, extra_vars


def private_data_dir(
    root: Path,
    kubeconfig: str,
    token: str,
    inventory: str,
    playbooks: dict[str, list[dict[str, Any]]],
    extra_vars: dict[str, Any],
) -> Path:
    """The layout AWX writes for a job: project/, inventory/, env/envvars, env/extravars (and the CA file
    of the Kubernetes credential, whose path AWX puts into K8S_AUTH_SSL_CA_CERT)."""
    config = yaml.safe_load(Path(kubeconfig).read_text())
    cluster = config["clusters"][0]["cluster"]
    ca_file = root / "env" / "k8s_ca.crt"
    (root / "env").mkdir(parents=True)
    if "certificate-authority-data" in cluster:
        ca_file.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    else:
        shutil.copy(cluster["certificate-authority"], ca_file)
    envvars = {
        "K8S_AUTH_HOST": cluster["server"],
        "K8S_AUTH_API_KEY": token,
        "K8S_AUTH_VERIFY_SSL": "True",
        "K8S_AUTH_SSL_CA_CERT": str(ca_file),
    }
    (root / "env" / "envvars").write_text(yaml.safe_dump(envvars))
    (root / "env" / "extravars").write_text(yaml.safe_dump(extra_vars))
    shutil.copytree(REPO / "inventories" / inventory, root / "inventory")
    (root / "project").mkdir()
    for name, plays in playbooks.items():
        (root / "project" / name).write_text(yaml.safe_dump(plays, sort_keys=False))
    return root


def runner(data_dir: Path, playbook: str, home: Path) -> tuple[int, list[dict[str, Any]], str]:
    """`ansible-runner run` as AWX starts it in the execution environment; returns rc, events, stdout."""
    environ = ansible_environment(
        # No kubeconfig anywhere: an empty HOME (no ~/.kube/config), no KUBECONFIG, no RK_KUBECONFIG. The
        # runner starts ansible-playbook from PATH, as the execution environment has it.
        {
            "HOME": str(home),
            "KUBECONFIG": "",
            "RK_KUBECONFIG": "",
            "ANSIBLE_STDOUT_CALLBACK": "default",
            "PATH": f"{BIN}:{ansible_environment()['PATH']}",
        }
    )
    proc = subprocess.run(
        [
            str(BIN / "ansible-runner"),
            "run",
            str(data_dir),
            "-p",
            playbook,
            "--ident",
            playbook.removesuffix(".yml"),
        ],
        capture_output=True,
        text=True,
        env=environ,
        timeout=900,
        check=False,
    )
    events_dir = data_dir / "artifacts" / playbook.removesuffix(".yml") / "job_events"
    # In the order they happened (the file names start with the counter, but sort as text).
    events = sorted(
        (json.loads(p.read_text()) for p in events_dir.glob("*.json")), key=lambda e: e["counter"]
    )
    return proc.returncode, events, proc.stdout + proc.stderr


def failed_tasks(events: list[dict[str, Any]], ignored: bool = False) -> dict[str, str]:
    """Task name -> failure message; with ignored, the failures the play ignored (and only those)."""
    return {
        e["event_data"]["task"]: e["event_data"]["res"].get("msg", "")
        for e in events
        if e["event"] == "runner_on_failed" and bool(e["event_data"].get("ignore_errors")) == ignored
    }


def ok_tasks(events: list[dict[str, Any]]) -> set[str]:
    return {
        e["event_data"].get("task") for e in events if e["event"] in ("runner_on_ok", "runner_item_on_ok")
    }


@pytest.fixture(scope="module")
def awx_cluster(make_cluster):
    """A cluster of its own: the examples' namespaces must hold only what these jobs made."""
    return make_cluster(nodes=3)


@pytest.fixture(scope="module")
def awx_job(awx_cluster, tmp_path_factory) -> Path:
    token = grant_least_privilege(admin(awx_cluster.kubeconfig), NAMESPACE)
    extra_vars = {**EXTRA_VARS, "rk_helm_binary": str(awx_cluster.bindir / "helm")}
    root = tmp_path_factory.mktemp("awx") / "job"
    return private_data_dir(root, awx_cluster.kubeconfig, token, "d2000_pair", d2000_job(), extra_vars)


def test_playbooks_run_through_ansible_runner_with_the_least_privilege_token(awx_job, awx_cluster, tmp_path):
    rc, events, output = runner(awx_job, "deploy.yml", tmp_path)
    assert rc == 0, f"{failed_tasks(events)}\n{output[-4000:]}"
    resources = admin(awx_cluster.kubeconfig)
    # What the run left is the work of the ServiceAccount, not of an admin kubeconfig.
    keystore = resources.get("v1", "Secret", "awx-keystore", NAMESPACE)
    assert keystore is not None
    assert any(m.get("manager") == "redundant.kube" for m in keystore["metadata"]["managedFields"])
    assert resources.get("v1", "ConfigMap", "d2000-license", NAMESPACE) is not None
    servers = [d["metadata"]["name"] for d in resources.list("apps/v1", "Deployment", NAMESPACE)]
    assert servers, "the app play deployed nothing"
    assert {
        "Generate or keep each keystore",
        "Push the license",
        "Which side is active",
        "Every node Ready",
    } <= ok_tasks(events)
    claims = resources.list("v1", "PersistentVolumeClaim", NAMESPACE)
    assert claims, "the app play made no claims"
    assert {c["spec"]["resources"]["requests"]["storage"] for c in claims} == {"3Gi"}, (
        "the volume did not grow"
    )
    [growth] = [
        e["event_data"]["res"]
        for e in events
        if e["event"] == "runner_item_on_ok" and e["event_data"]["res"].get("volume_growth")
    ]
    assert growth["volume_growth"][0].startswith("scaled "), growth["volume_growth"]
    drilled = [
        e["event_data"]["res"]
        for e in events
        if e["event"] == "runner_on_ok" and e["event_data"]["task"] == "Record the step"
    ]
    summaries = [d["ansible_facts"]["rk_drill_results"][-1]["summary"] for d in drilled]
    assert [s.split(":")[0] for s in summaries] == ["delete_pod", "drain"], summaries
    assert all("redundant again" in s for s in summaries), summaries
    unschedulable = [
        n["metadata"]["name"] for n in resources.list("v1", "Node") if n["spec"].get("unschedulable")
    ]
    assert not unschedulable, f"the drain left {unschedulable} cordoned"


@pytest.fixture(scope="module")
def ddb_job_dir(awx_cluster, tmp_path_factory) -> Path:
    token = grant_least_privilege(admin(awx_cluster.kubeconfig), DDB_NAMESPACE)
    playbooks, extra_vars = ddb_job(awx_cluster.bindir / "helm")
    root = tmp_path_factory.mktemp("awx-ddb") / "job"
    return private_data_dir(root, awx_cluster.kubeconfig, token, "dolphindb_helm", playbooks, extra_vars)


def test_the_helm_release_runs_through_ansible_runner_with_the_least_privilege_token(
    ddb_job_dir, awx_cluster, tmp_path
):
    rc, events, output = runner(ddb_job_dir, "deploy.yml", tmp_path)
    assert rc == 0, f"{failed_tasks(events)}\n{output[-4000:]}"
    resources = admin(awx_cluster.kubeconfig)
    assert resources.get("v1", "ConfigMap", "dolphindb-license", DDB_NAMESPACE) is not None
    release = resources.list("v1", "Secret", DDB_NAMESPACE, label_selector="owner=helm,name=ddb-test1")
    assert [s["metadata"]["labels"]["status"] for s in release] == ["deployed"]
    members = resources.get("apps/v1", "StatefulSet", "ddb-test1-dn", DDB_NAMESPACE)
    assert members["status"].get("readyReplicas") == 3, members["status"]
    assert {"Install the Helm releases", "Push the license"} <= ok_tasks(events)
    [first, renewal] = [
        e["event_data"]["res"]
        for e in events
        if e["event"] == "runner_on_ok" and e["event_data"]["task"] == "Push the license"
    ]
    assert first["restarted"] == [], "the first push found members to restart before the release existed"
    restarted = [{"kind": "StatefulSet", "name": "ddb-test1-dn", "side": None, "method": "delete_pods"}]
    assert renewal["restarted"] == restarted, renewal


def test_actions_outside_the_granted_rights_are_forbidden(awx_job, tmp_path):
    rc, events, output = runner(awx_job, "outside.yml", tmp_path)
    assert rc == 0, f"{failed_tasks(events)}\n{output[-3000:]}"
    refused = failed_tasks(events, ignored=True)
    user = f'User "{account(NAMESPACE)}"'
    expected = {
        "Keystore in kube-system": f'{user} cannot get resource "secrets" in API group "" in the namespace "kube-system"',
        "Helm release in kube-system": f'{user} cannot list resource "secrets" in API group "" in the namespace "kube-system"',
        "Drill in kube-system": f'{user} cannot list resource "deployments" in API group "apps" in the namespace "kube-system"',
        "A StorageClass": f'{user} cannot create resource "storageclasses" in API group "storage.k8s.io" at the cluster scope',
    }
    assert set(refused) == set(expected), refused
    for task, message in expected.items():
        # kubernetes.core.k8s quotes the API's Status as bytes, its quotes escaped.
        said = re.sub(r'\\+"', '"', refused[task])
        assert "forbidden" in said, said
        assert message in said, said
