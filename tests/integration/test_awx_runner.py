"""The AWX path for real: `ansible-runner` on a private data directory shaped like the one AWX hands to an
execution environment - project with the playbooks, inventory, env/envvars with the Kubernetes credential
(K8S_AUTH_HOST, K8S_AUTH_API_KEY, K8S_AUTH_VERIFY_SSL, K8S_AUTH_SSL_CA_CERT), env/extravars - and no
kubeconfig anywhere, against the local control plane (real API server and RBAC; kubelets simulated by kwok).

The token is a ServiceAccount's, bound to exactly the shipped least-privilege manifest docs/awx-rbac.yaml:
the keystore, app and license playbooks of the D2000 pair example run through under it, and an action
outside it is refused with the API's "forbidden" message naming the verb and the resource.
"""

from __future__ import annotations

import base64
import json
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
ACCOUNT = f"system:serviceaccount:{NAMESPACE}:redundant-kube"
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
    ]
}
PROJECT_PLAYBOOKS = {
    # What a job template runs: the collection's playbooks by their names, in site.yml's order.
    "deploy.yml": ["redundant.kube.keystore", "redundant.kube.license", "redundant.kube.app"],
    "outside.yml": [],
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
OUTSIDE = [
    {
        "name": "A keystore in a namespace the account has no rights in",
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [
            {
                "name": "Keystore in kube-system",
                "redundant.kube.keystore": {
                    "name": "not-allowed",
                    "namespace": "kube-system",
                    "store_password": "changeit",
                    "entries": [{"alias": "default", "size": 128, "key_password": "x"}],
                },
            }
        ],
    }
]


def admin(kubeconfig: str) -> Resources:
    return Resources(api_client_from_settings(ConnectionSettings(kubeconfig=kubeconfig)))


def grant_least_privilege(resources: Resources) -> str:
    """Apply docs/awx-rbac.yaml for the example's namespace and return a token of its ServiceAccount."""
    resources.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    manifest = (REPO / "docs/awx-rbac.yaml").read_text().replace("APP_NAMESPACE", NAMESPACE)
    for document in yaml.safe_load_all(manifest):
        resources.apply(document)
    request = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": 3600},
    }
    answer = resources.request(
        "POST",
        f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/redundant-kube/token",
        body=request,
        what="a token of the ServiceAccount",
    )
    return answer["status"]["token"]


def private_data_dir(root: Path, kubeconfig: str, token: str) -> Path:
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
    (root / "env" / "extravars").write_text(yaml.safe_dump(EXTRA_VARS))
    shutil.copytree(REPO / "inventories" / "d2000_pair", root / "inventory")
    (root / "project").mkdir()
    for name, playbooks in PROJECT_PLAYBOOKS.items():
        plays = (
            [{"name": p, "ansible.builtin.import_playbook": p} for p in playbooks] + [REPORT]
            if playbooks
            else OUTSIDE
        )
        (root / "project" / name).write_text(yaml.safe_dump(plays, sort_keys=False))
    return root


def runner(data_dir: Path, playbook: str, home: Path) -> tuple[int, list[dict[str, Any]], str]:
    """`ansible-runner run` as AWX starts it in the execution environment; returns rc, events, stdout."""
    environ = ansible_environment(
        # No kubeconfig anywhere: an empty HOME (no ~/.kube/config), no KUBECONFIG, no RK_KUBECONFIG.
        {"HOME": str(home), "KUBECONFIG": "", "RK_KUBECONFIG": "", "ANSIBLE_STDOUT_CALLBACK": "default"}
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
    events = [json.loads(p.read_text()) for p in sorted(events_dir.glob("*.json"))]
    return proc.returncode, events, proc.stdout + proc.stderr


def failed_tasks(events: list[dict[str, Any]]) -> dict[str, str]:
    return {
        e["event_data"]["task"]: e["event_data"]["res"].get("msg", "")
        for e in events
        if e["event"] == "runner_on_failed" and not e["event_data"].get("ignore_errors")
    }


@pytest.fixture(scope="module")
def awx_cluster(make_cluster):
    """A cluster of its own: the D2000 example's namespace must hold only what this job made."""
    return make_cluster(nodes=3)


@pytest.fixture(scope="module")
def awx_job(awx_cluster, tmp_path_factory) -> Path:
    token = grant_least_privilege(admin(awx_cluster.kubeconfig))
    return private_data_dir(tmp_path_factory.mktemp("awx") / "job", awx_cluster.kubeconfig, token)


def test_playbooks_run_through_ansible_runner_with_the_least_privilege_token(awx_job, awx_cluster, tmp_path):
    rc, events, output = runner(awx_job, "deploy.yml", tmp_path)
    assert rc == 0, f"{failed_tasks(events)}\n{output[-4000:]}"
    ok = {e["event_data"].get("task") for e in events if e["event"] in ("runner_on_ok", "runner_item_on_ok")}
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
    } <= ok


def test_an_action_outside_the_granted_rights_is_forbidden(awx_job, tmp_path):
    rc, events, output = runner(awx_job, "outside.yml", tmp_path)
    assert rc != 0, output[-3000:]
    [message] = failed_tasks(events).values()
    assert "forbidden" in message, message
    assert f'User "{ACCOUNT}" cannot get resource "secrets"' in message, message
    assert 'in the namespace "kube-system"' in message, message
